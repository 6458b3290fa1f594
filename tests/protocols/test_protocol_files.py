"""Protocol files as a new user meets them: the library, validation, and one clear message per mistake."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from app.cli import main
from protocols.library import LIBRARY
from protocols.loader import load_protocol
from protocols.plan import build_plan

BUILT_IN = ["passive-suppression", "active-deception", "mock-crime-interview"]


@pytest.fixture(autouse=True)
def demo_stimuli(monkeypatch, tmp_path):
    monkeypatch.setenv("MEXLAB_DEMO_STIMULI", str(Path(tempfile.gettempdir()) / "mexlab-test-demo-stimuli"))
    monkeypatch.setenv("MEXLAB_PROTOCOLS", str(tmp_path / "mine"))


GOOD = """\
format: mexlab-protocol/1
name: tiny
stimuli: media
blocks:
  - id: one
    trials:
      conditions: words.csv
      order: random
      steps:
        - type: fixation
          duration: 0.5
        - type: stimulus
          text: "{word}"
          duration: "{secs}"
        - type: stimulus
          image: pic.png
          duration: 1
"""


def write_tiny(folder: Path, text: str = GOOD, csv: str = "word,secs\ncalm,1\nangry,1.5\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "media").mkdir(exist_ok=True)
    from protocols.demo_stimuli import write_image

    if not (folder / "media" / "pic.png").exists():
        write_image(folder / "media" / "pic.png", "a picture", size=(64, 48))
    (folder / "words.csv").write_text(csv)
    path = folder / "tiny.yaml"
    path.write_text(text)
    return path


def test_builtins_validate_and_list(capsys, tmp_path):
    assert main(["protocols", "validate", *BUILT_IN]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == 3 and "group A" in out and "group guilty" in out
    write_tiny(tmp_path / "mine")
    assert main(["protocols", "list"]) == 0
    cap = capsys.readouterr()
    for name in [*BUILT_IN, "tiny"]:
        assert re.search(rf"^{name}\s", cap.out, re.M)
    assert "MEXLAB_PROTOCOLS" in cap.out and "built-in" in cap.out and "user" in cap.err
    assert main(["protocols", "validate", "tiny"]) == 0  # found by name in MEXLAB_PROTOCOLS
    capsys.readouterr()
    assert main(["protocols", "show", "mock-crime-interview", "--participant", "P002", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "group innocent" in out and "question q01-chair: until the experimenter continues" in out
    assert "rest baseline-initial: 2 s" in out


BROKEN = [
    # (what, edit of GOOD, csv or None, expected line, words the message must hold)
    ("bad YAML", lambda t: t.replace("    trials:\n", "    trials:\n   - oops\n"), None, 7, ["not valid YAML"]),
    (
        "unknown step type",
        lambda t: t.replace("type: fixation", "type: fixaton"),
        None,
        10,
        ["blocks[0].trials.steps[0].type", "'fixaton' is not one of", "fixation"],
    ),
    (
        "missing stimulus file",
        lambda t: t.replace("pic.png", "nope.png"),
        None,
        16,
        ["blocks[0].trials.steps[2].image", "nope.png does not exist"],
    ),
    (
        "wrong type of value",
        lambda t: t.replace("duration: 0.5", "duration: soon"),
        None,
        11,
        ["blocks[0].trials.steps[0].duration", "'soon'", "number of seconds"],
    ),
    (
        "unknown field",
        lambda t: t.replace("duration: 1\n", "duraton: 1\n"),
        None,
        17,
        ["blocks[0].trials.steps[2].duraton", "unknown field 'duraton'"],
    ),
    (
        "unknown variable",
        lambda t: t.replace("{word}", "{wrod}"),
        None,
        13,
        ["blocks[0].trials.steps[1].text", "unknown variable '{wrod}'", "word"],
    ),
    (
        "not a number from the table",
        lambda t: t,
        "word,secs\ncalm,1\nangry,long\n",
        14,
        ["blocks[0].trials.steps[1].duration", "'long' is not a number", "words.csv, line 3"],
    ),
    ("ragged conditions table", lambda t: t, "word,secs\ncalm,1,2\n", 2, ["words.csv", "3 values for 2 columns"]),
    (
        "missing conditions file",
        lambda t: t.replace("words.csv", "wrods.csv"),
        None,
        7,
        ["blocks[0].trials.conditions", "wrods.csv does not exist"],
    ),
    ("wrong format", lambda t: t.replace("mexlab-protocol/1", "mexlab-protocol/9"), None, 1, ["field 'format'"]),
]


@pytest.mark.parametrize("what,edit,csv,line,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_one_clear_message(tmp_path, capsys, what, edit, csv, line, words):
    path = write_tiny(tmp_path / "p", edit(GOOD), csv or "word,secs\ncalm,1\nangry,1.5\n")
    assert main(["protocols", "validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line
    assert err.startswith("mexlab protocols: error: ")
    assert ("words.csv" in err or "wrods" in err or str(path) in err) and f"line {line}" in err, err
    for w in words:
        assert w in err, err


def test_unknown_protocol_and_missing_screen(tmp_path, capsys):
    assert main(["protocols", "validate", "no-such-protocol"]) == 2
    assert "no protocol named 'no-such-protocol'" in capsys.readouterr().err
    out = tmp_path / "s"
    rc = main(
        [
            "run-protocol",
            "passive-suppression",
            "--participant",
            "P1",
            "--out",
            str(out),
            "--simulate",
            "--headless",
            "--screen",
            "3",
        ]
    )
    assert rc == 2
    assert "--screen 3: there is no such screen; this computer has 1 screen" in capsys.readouterr().err
    assert not out.exists()  # nothing was recorded


def test_counterbalancing_and_randomisation_by_participant():
    proto = load_protocol(LIBRARY / "active-deception.yaml")
    groups = [build_plan(proto, f"P{i:03d}").group for i in range(1, 7)]
    assert groups == ["A", "B", "A", "B", "A", "B"]
    assert build_plan(proto, "P001", group="B").group == "B"

    def clips(pid):
        return [s.params["stimulus"] for s in build_plan(proto, pid).steps if s.type == "stimulus"]

    assert clips("P005") == clips("P005")  # reproducible
    orders = {tuple(clips(f"P{i:03d}")) for i in range(1, 13)}
    assert len(orders) > 3 and all(sorted(o) == sorted(clips("P001")) for o in orders)
    quick = build_plan(proto, "P001", quick=True)
    assert {s.trial for s in quick.steps if s.trial is not None} == {1}
    assert all((s.params["duration"] or 0) <= 2 for s in quick.steps)
    for s in build_plan(proto, "P002").steps:
        if s.trial is not None:
            assert s.vars["condition"] in ("truthful", "deceptive")


def test_latin_and_repeats(tmp_path):
    text = GOOD.replace("order: random", "order: latin\n      repeat: 2")
    text = text.replace("  - id: one\n", "  - id: one\n    repeat: 2\n")
    proto = load_protocol(write_tiny(tmp_path / "p", text, "word,secs\na,1\nb,1\nc,1\n"))

    def words(pid):
        return [s.params["text"] for s in build_plan(proto, pid).steps if s.params.get("kind") == "text"]

    assert words("P1") == ["a", "b", "c"] * 4  # 2 block repeats x 2 trial repeats
    assert words("P2")[:3] == ["b", "c", "a"] and words("P3")[:3] == ["c", "a", "b"]
    blocks = {s.block_n for s in build_plan(proto, "P1").steps}
    assert blocks == {1, 2}


# --------------------------------------------------------------- what a file or flag may ask for
def test_a_huge_repeat_is_refused_not_hung(tmp_path, capsys):
    path = write_tiny(tmp_path / "p", GOOD.replace("  - id: one\n", "  - id: one\n    repeat: 1000000000\n"))
    for argv in (["protocols", "validate", str(path)], ["protocols", "show", str(path), "--participant", "P1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "blocks[0].repeat" in err and "1000000000" in err and "1000" in err, err
    path = write_tiny(
        tmp_path / "q",
        GOOD.replace("      order: random\n", "      order: random\n      repeat: 1000\n"),
        "word,secs\n" + "".join(f"w{i},1\n" for i in range(200)),
    )
    assert main(["protocols", "show", str(path), "--participant", "P1"]) == 2  # 200 x 1000 x 3 steps
    err = capsys.readouterr().err
    assert "block 'one'" in err and "100,000 steps" in err and str(path) in err, err


def test_a_yaml_alias_bomb_is_refused_with_a_message(tmp_path, capsys):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("format: mexlab-protocol/1\nname: bomb\n" + "\n".join(lines) + "\n")
    assert main(["protocols", "validate", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert "bomb.yaml" in err and "aliases" in err and "Traceback" not in err, err
    deep = tmp_path / "deep.yaml"
    deep.write_text("x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["protocols", "validate", str(deep)]) == 2
    assert "deep.yaml" in capsys.readouterr().err


def test_group_and_participant_are_checked(tmp_path, capsys):
    path = write_tiny(tmp_path / "p")
    assert main(["protocols", "show", str(path), "--participant", "P1", "--group", "ZZ"]) == 2
    err = capsys.readouterr().err
    assert "group 'ZZ'" in err and "no counterbalancing groups" in err, err
    assert main(["protocols", "show", str(path), "--participant", ""]) == 2
    assert "participant ''" in capsys.readouterr().err


def test_a_hostile_conditions_table_is_refused_unread(tmp_path, capsys):
    path = write_tiny(tmp_path / "p")
    with open(tmp_path / "p" / "words.csv", "wb") as fh:  # sparse: no disk, but 300 MB to a reader
        fh.truncate(300 << 20)
    assert main(["protocols", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "words.csv" in err and "limit 4 MB" in err, err
