"""Every command of the CLI against bad input: a missing file, an empty one, one of the wrong type,
a corrupt one, a value out of range, a hostile size. Each case must end with exit != 0, no
traceback, a message naming the file or the field, and the catalog and every file that existed
before unchanged (hashed before and after).

The cases run in this process through the real entry point (app.cli.main, see
helpers_badinput.cli): the same parser, commands and error handling as the `mexlab` command, in
seconds instead of minutes. One recorded session (the simulated rig) serves every case.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers_badinput import assert_refused, cli, copy_session, fingerprint, recorded_session

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]

HOSTILE_BYTES = 300 << 20  # sparse: costs no disk, but a reader that slurps it would


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> dict:
    """The inputs, made once: B is their folder, S a good session, the others bad files."""
    B = tmp_path_factory.mktemp("bad")
    S = copy_session(recorded_session(tmp_path_factory), B / "S")
    (B / "empty").mkdir()
    for name in ("e.csv", "e.xdf", "e.mkv", "e.yaml", "e.db3", "e.eaf", "e.xlsx", "e.json"):
        (B / "empty" / name).write_bytes(b"")
    # wrong type: a picture named as each kind of file, a video given as a sheet, etc.
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    for name in ("w.csv", "w.xdf", "w.mkv", "w.yaml", "w.db3", "w.eaf", "w.xlsx"):
        (B / name).write_bytes(png)
    # corrupt: the real files cut short or garbled
    (B / "c.xdf").write_bytes((S / "recording.xdf").read_bytes()[:700])
    (B / "c.mkv").write_bytes((S / "rgb.mkv").read_bytes()[:5000])
    (B / "c.yaml").write_text("format: mexlab-protocol/1\nname: x\nblocks:\n  - id: a\n\t- b\n")
    (B / "c.csv").write_text('onset,offset\n"1,2\n3,4\n')
    (B / "c.eaf").write_text("<ANNOTATION_DOCUMENT><TIME_ORDER>")
    (B / "c.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(3000))
    (B / "c.db3").write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    S_json = copy_session(S, B / "S_json")  # session.json that is not JSON
    (S_json / "session.json").write_text('{"format": "mexlab-session/1", "files": {')
    # hostile size: sparse files far larger than any such file can be
    (B / "big").mkdir()
    for name in ("h.csv", "h.xdf", "h.mkv", "h.yaml", "h.eaf", "h.xlsx", "h.db3"):
        with open(B / "big" / name, "wb") as fh:
            fh.truncate(HOSTILE_BYTES)
    S_big = copy_session(S, B / "S_big")
    with open(S_big / "session.json", "wb") as fh:
        fh.truncate(HOSTILE_BYTES)
    (B / "good.csv").write_text("onset,offset\n10,14\n")
    (B / "pred.csv").write_text("video,onset,offset,type\nv,1,5,micro\n")
    (B / "proto.yaml").write_text(
        "format: mexlab-protocol/1\nname: tiny\nblocks:\n  - id: one\n"
        "    repeat: 1000000000\n    before:\n      - type: rest\n"
        "        duration: 1\n"
    )
    return {"B": B, "S": S}


# (id, argv with {B} and {S}, words the message must hold)
MISSING = [
    ("check", "check {B}/nope", ["nope"]),
    ("sessions-register", "sessions register {B}/nope", ["nope"]),
    ("sessions-rescan", "sessions rescan {B}/nope", ["nope"]),
    ("spot", "spot {B}/nope.mkv", ["nope.mkv"]),
    ("physio", "physio {B}/nope.xdf", ["nope.xdf"]),
    ("stats", "stats {B}/nope", ["nope"]),
    ("report", "report {B}/nope --out {B}/r.html", ["nope"]),
    ("reliability", "reliability {B}/nope", ["nope"]),
    ("annotations-import-file", "annotations import {B}/nope.csv --session {S} --coder a", ["nope.csv"]),
    ("annotations-import-session", "annotations import {B}/good.csv --session {B}/nope --coder a", ["nope"]),
    ("annotations-export", "annotations export {B}/nope --format csv --out {B}/o.csv", ["nope"]),
    ("annotations-consensus", "annotations consensus {B}/nope --coders a b", ["nope"]),
    ("evaluate-gt", "evaluate-spotting --gt {B}/nope.csv --pred {B}/pred.csv", ["nope.csv"]),
    ("evaluate-pred", "evaluate-spotting --gt {B}/pred.csv --pred {B}/nope.csv", ["nope.csv"]),
    ("samples", "samples {B}/nope.mkv --au AU12 --threshold 0.3 --out {B}/so", ["nope.mkv"]),
    ("samples-openface", "samples {S} --au AU12 --threshold 0.3 --out {B}/so --openface {B}/nope.csv", ["nope.csv"]),
    ("protocols-validate", "protocols validate {B}/nope.yaml", ["nope.yaml"]),
    ("protocols-show", "protocols show {B}/nope.yaml --participant P1", ["nope.yaml"]),
    ("record-camera-file", "record --camera-file {B}/nope.db3 --out {B}/r1", ["nope.db3"]),
    ("recognize", "recognize {B}/nope.mkv", ["nope.mkv"]),
    ("recognize-model", "recognize {S} --model {B}/nope.pt", ["nope.pt"]),
    ("datasets-show", "datasets show mexlab:{B}/nope", ["nope"]),
    ("run-protocol", "run-protocol {B}/nope.yaml --participant P1 --simulate --headless --out {B}/r1", ["nope.yaml"]),
]
EMPTY = [
    ("check", "check {B}/empty/e.xdf", ["e.xdf"]),
    ("spot", "spot {B}/empty/e.mkv", ["e.mkv"]),
    ("physio", "physio {B}/empty/e.xdf", ["e.xdf"]),
    ("stats", "stats {B}/empty/e.xdf", ["e.xdf"]),
    ("annotations-import-csv", "annotations import {B}/empty/e.csv --session {S} --coder a", ["e.csv"]),
    ("annotations-import-eaf", "annotations import {B}/empty/e.eaf --session {S}", ["e.eaf"]),
    ("annotations-import-xlsx", "annotations import {B}/empty/e.xlsx --session {S} --coder a", ["e.xlsx"]),
    ("evaluate-pred", "evaluate-spotting --gt {B}/pred.csv --pred {B}/empty/e.csv", ["e.csv"]),
    ("samples", "samples {B}/empty/e.mkv --au AU12 --threshold 0.3 --out {B}/so", ["e.mkv"]),
    ("samples-openface", "samples {S} --au AU12 --threshold 0.3 --out {B}/so --openface {B}/empty/e.csv", ["e.csv"]),
    ("protocols-validate", "protocols validate {B}/empty/e.yaml", ["e.yaml"]),
    ("record-camera-file", "record --camera-file {B}/empty/e.db3 --out {B}/r1", ["e.db3"]),
    ("sessions-register", "sessions register {B}/empty", ["empty"]),
    ("recognize", "recognize {B}/empty/e.mkv", ["e.mkv"]),
]
WRONG_TYPE = [
    ("check", "check {B}/w.xdf", ["w.xdf"]),
    ("check-video-as-xdf", "check {S}/rgb.mkv", ["rgb.mkv"]),
    ("spot", "spot {B}/w.mkv", ["w.mkv"]),
    ("spot-xdf-as-video", "spot {S}/recording.xdf", ["recording.xdf"]),
    ("physio", "physio {S}/rgb.mkv", ["rgb.mkv"]),
    ("stats", "stats {B}/w.xdf", ["w.xdf"]),
    ("annotations-import-csv", "annotations import {B}/w.csv --session {S} --coder a", ["w.csv"]),
    ("annotations-import-xdf", "annotations import {S}/recording.xdf --session {S} --coder a", ["recording.xdf"]),
    ("annotations-import-folder", "annotations import {S} --session {S} --coder a", [str]),
    (
        "annotations-import-session-is-file",
        "annotations import {B}/good.csv --session {B}/pred.csv --coder a",
        ["pred.csv"],
    ),
    ("evaluate-gt", "evaluate-spotting --gt {B}/w.csv --pred {B}/pred.csv", ["w.csv"]),
    ("samples", "samples {B}/w.mkv --au AU12 --threshold 0.3 --out {B}/so", ["w.mkv"]),
    ("protocols-validate", "protocols validate {B}/w.yaml", ["w.yaml"]),
    ("protocols-validate-csv", "protocols validate {B}/pred.csv", ["pred.csv"]),
    ("record-camera-file", "record --camera-file {B}/w.db3 --out {B}/r1", ["w.db3"]),
    ("record-out-is-file", "record --simulate --duration 1 --out {B}/good.csv --no-catalog", ["good.csv"]),
    ("reliability", "reliability {B}/good.csv", ["good.csv"]),
    ("recognize", "recognize {S}/recording.xdf", ["recording.xdf"]),
    ("recognize-model", "recognize {S} --model {B}/good.csv", ["good.csv"]),
]
CORRUPT = [
    ("check", "check {B}/c.xdf", ["c.xdf", "NOT OK"]),  # check reports (exit 1), not an error
    ("check-session-json", "check {B}/S_json", ["session.json"]),
    ("physio", "physio {B}/c.xdf", ["c.xdf"]),
    ("spot", "spot {B}/c.mkv", ["c.mkv"]),
    ("spot-session-json", "spot {B}/S_json", ["session.json"]),
    ("sessions-register-json", "sessions register {B}/S_json", ["session.json"]),
    ("annotations-import-csv", "annotations import {B}/c.csv --session {S} --coder a", ["c.csv"]),
    ("annotations-import-eaf", "annotations import {B}/c.eaf --session {S}", ["c.eaf"]),
    ("annotations-import-xlsx", "annotations import {B}/c.xlsx --session {S} --coder a", ["c.xlsx"]),
    (
        "annotations-import-session-json",
        "annotations import {B}/good.csv --session {B}/S_json --coder a",
        ["session.json"],
    ),
    ("protocols-validate", "protocols validate {B}/c.yaml", ["c.yaml"]),
    ("record-camera-file", "record --camera-file {B}/c.db3 --out {B}/r1", ["c.db3"]),
    ("samples", "samples {B}/c.mkv --au AU12 --threshold 0.3 --out {B}/so", ["c.mkv"]),
]
OUT_OF_RANGE = [
    # --workers 0 ran with one worker per core, -3 with one, 100000 with one process per session
    ("spot-workers-zero", "spot {S} --workers 0", ["--workers", "'0'"]),
    ("spot-workers-negative", "spot {S} --workers -3", ["--workers", "'-3'"]),
    ("physio-workers-huge", "physio {S} --workers 100000", ["--workers", "'100000'"]),
    ("report-workers-huge", "report {S} --workers 100000 --out {B}/r.html", ["--workers", "'100000'"]),
    # --out over a session's own file: `spot S --out S/rgb.mkv` replaced the colour video with the
    # JSON result, `report S --out S/session.json` the sidecar with the HTML page
    ("spot-out-over-video", "spot {S} --out {S}/rgb.mkv", ["rgb.mkv", "session folder's own files"]),
    ("spot-out-over-other-kind", "spot {S} --out {B}/good.csv", ["good.csv", "is not a .json file"]),
    ("report-out-over-sidecar", "report {S} --out {S}/session.json", ["session.json", "own files"]),
    (
        "export-out-over-xdf",
        "annotations export {S} --format csv --out {S}/recording.xdf",
        ["recording.xdf", "own files"],
    ),
    (
        "recognition-out-over-video",
        "recognition train --dataset casme2:{B}/empty --out {S}/rgb.mkv",
        ["rgb.mkv", "own files"],
    ),
    # output folders that are a session folder: samples and a federated run wrote their files into it
    ("samples-out-session", "samples {S} --au AU12 --threshold 0.3 --out {S}", ["is a session folder"]),
    ("export-release-out-session", "datasets export {S} --format casme3 --out {S}", ["is a session folder"]),
    # a nan learning rate trained a nan model; 0 or 10^9 epochs were not refused
    (
        "recognition-train-lr",
        "recognition train --dataset casme2:{B}/empty --out {B}/m.pt --lr nan",
        ["learning rate nan"],
    ),
    (
        "recognition-train-epochs",
        "recognition train --dataset casme2:{B}/empty --out {B}/m.pt --epochs 0",
        ["epochs 0"],
    ),
    (
        "recognition-evaluate-epochs",
        "recognition evaluate --dataset casme2:{B}/empty --epochs 1000000000",
        ["--epochs"],
    ),
    ("record-duration-huge", "record --simulate --duration 1e12 --out {B}/r1", ["--duration"]),
    ("record-duration-nan", "record --simulate --duration nan --out {B}/r1", ["--duration"]),
    ("record-duration-negative", "record --simulate --duration -1 --out {B}/r1", ["--duration"]),
    ("record-lsl-timeout", "record --simulate --lsl-timeout -1 --out {B}/r1", ["--lsl-timeout"]),
    (
        "record-colour-codec",
        "record --simulate --duration 1 --colour-codec vp9 --out {B}/r1",
        ["--colour-codec", "vp9"],
    ),
    (
        "record-colour-codec-empty",
        ["record", "--simulate", "--duration", "1", "--colour-codec", "", "--out", "{B}/r1"],
        ["--colour-codec"],
    ),
    ("record-participant-empty", ["record", "--simulate", "--participant", "", "--out", "{B}/r1"], ["--participant"]),
    ("record-rgb-mode", "record --simulate --rgb 12x7@999 --out {B}/r1", ["12x7@999"]),
    ("record-db", "record --simulate --duration 1 --db foo://x --out {B}/r1", ["foo://x"]),
    ("rig-duration", "rig --duration 1e12", ["--duration"]),
    ("rig-camera-file-nodir", "rig --write-camera-file {B}/nodir/x.db3", ["nodir"]),
    ("rig-camera-file-exists", "rig --write-camera-file {B}/empty/e.db3 --duration 1", ["e.db3"]),
    ("rig-camera-file-long", "rig --write-camera-file {B}/x.db3 --duration 100000", ["--duration"]),
    ("devices-wait-negative", "devices --wait -5", ["--wait"]),
    ("devices-wait-nan", "devices --wait nan", ["--wait"]),
    ("check-db", "check {S} --db foo://x", ["foo://x"]),
    ("sessions-list-db", "sessions list --db foo://x", ["foo://x"]),
    ("stats-db", "stats --db foo://x", ["foo://x"]),
    ("samples-threshold-nan", "samples {S} --au AU12 --threshold nan --out {B}/so", ["--threshold"]),
    ("samples-threshold-big", "samples {S} --au AU12 --threshold 99 --out {B}/so", ["--threshold"]),
    ("samples-span", "samples {S} --au AU12 --threshold 0.3 --span 0 --out {B}/so", ["--span"]),
    ("samples-au", "samples {S} --au AU999x --threshold 0.3 --out {B}/so", ["AU999x"]),
    ("protocols-repeat", "protocols validate {B}/proto.yaml", ["repeat", "1000000000"]),
    ("protocols-show-group", "protocols show passive-suppression --participant P1 --group ZZ", ["ZZ"]),
    ("protocols-show-participant", ["protocols", "show", "passive-suppression", "--participant", ""], ["participant"]),
    ("shortcuts-action", "shortcuts set no.such.action U", ["no.such.action"]),
    ("annotations-export-coder", "annotations export {S} --coder nobody --format csv --out {B}/o.csv", ["nobody"]),
    ("annotations-export-nothing-coded", "annotations export {S} --format csv --out {B}/o.csv", ["nothing coded"]),
    ("report-out-dir", "report {S} --out {B}/empty", ["empty"]),
    ("sessions-delete", "sessions delete no-such-session --yes", ["no-such-session"]),
    (
        "run-protocol-group",
        "run-protocol passive-suppression --participant P1 --group ZZ --simulate --headless --out {B}/r1",
        ["ZZ"],
    ),
    (
        "run-protocol-participant",
        ["run-protocol", "passive-suppression", "--participant", "", "--simulate", "--headless", "--out", "{B}/r1"],
        ["participant"],
    ),
    (
        "run-protocol-lsl-timeout",
        "run-protocol passive-suppression --participant P1 --lsl-timeout -1 --simulate --headless --out {B}/r1",
        ["--lsl-timeout"],
    ),
    (
        "run-protocol-repeat",
        "run-protocol {B}/proto.yaml --participant P1 --simulate --headless --out {B}/r1",
        ["repeat", "1000000000"],
    ),
]
HOSTILE = [
    ("check", "check {B}/big/h.xdf", ["h.xdf"]),
    ("check-session-json", "check {B}/S_big", ["session.json"]),
    ("physio", "physio {B}/big/h.xdf", ["h.xdf"]),
    ("spot", "spot {B}/big/h.mkv", ["h.mkv"]),
    ("annotations-import-csv", "annotations import {B}/big/h.csv --session {S} --coder a", ["h.csv"]),
    ("annotations-import-eaf", "annotations import {B}/big/h.eaf --session {S}", ["h.eaf"]),
    ("evaluate-gt", "evaluate-spotting --gt {B}/big/h.csv --pred {B}/pred.csv", ["h.csv"]),
    ("protocols-validate", "protocols validate {B}/big/h.yaml", ["h.yaml"]),
    ("record-camera-file", "record --camera-file {B}/big/h.db3 --out {B}/r1", ["h.db3"]),
    ("sessions-register", "sessions register {B}/S_big", ["session.json"]),
]
CASES = [
    pytest.param(argv, needles, id=f"{kind}-{cid}")
    for kind, cases in (
        ("missing", MISSING),
        ("empty", EMPTY),
        ("wrong-type", WRONG_TYPE),
        ("corrupt", CORRUPT),
        ("out-of-range", OUT_OF_RANGE),
        ("hostile", HOSTILE),
    )
    for cid, argv, needles in cases
]


def _argv(argv, w) -> list[str]:
    parts = argv.split() if isinstance(argv, str) else argv
    return [p.format(**w) for p in parts]


def _catalog_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@pytest.mark.parametrize("argv, needles", CASES)
def test_bad_input_is_refused_and_changes_nothing(w, private_catalog, argv, needles):
    args = _argv(argv, w)
    db = _catalog_file(private_catalog)
    before = fingerprint(w["B"], *([db] if db.exists() else []))
    res = cli(*args)
    needles = [args[-1] if n is str else n for n in needles]
    if args[0] == "check" and res.returncode == 1:  # check's verdict: its report, NOT OK, exit 1
        text = res.stdout + res.stderr
        assert "NOT OK" in res.stdout and "Traceback" not in text, text
        assert all(n in text for n in needles), text
    else:
        assert_refused(res, *needles)
    after = fingerprint(w["B"], *([db] if db.exists() else []))
    changed = sorted(set(before) ^ set(after) | {p for p in before if p in after and before[p] != after[p]})
    changed = [p for p in changed if not (db.exists() and p == str(db) and p not in before)]
    assert not changed, (res.stderr, changed)
    for made in ("r1", "so", "r.html", "o.csv", "x.db3"):
        assert not (w["B"] / made).exists(), made


def test_spot_says_when_the_video_is_shorter_than_the_session_recorded(w, tmp_path):
    """An rgb.mkv cut at 30 % was spotted in part without a word; now the note gives both counts."""
    s = copy_session(w["S"], tmp_path / "cut")
    meta = json.loads((s / "session.json").read_text())
    expected = meta["counts"]["rgb"]["frames_written"]
    video = s / "rgb.mkv"
    with open(video, "r+b") as fh:
        fh.truncate(int(video.stat().st_size * 0.3))
    res = cli("spot", s, "--json", "--quiet", "--no-cache")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    got = json.loads(res.stdout)["n_frames"]
    assert got < expected
    assert f"rgb.mkv gave only {got} of the {expected} frames the session recorded" in res.stderr, res.stderr
    assert "truncated" in res.stderr
    shutil.rmtree(s)


@pytest.mark.parametrize("content", ['{"shortcuts": ', "[1, 2]", "\x00" * 100])
@pytest.mark.parametrize(
    "argv", [["shortcuts", "list"], ["shortcuts", "set", "annotate.onset", "U"], ["shortcuts", "reset", "--all"]]
)
def test_a_corrupt_settings_file_is_named_and_never_overwritten(tmp_path, monkeypatch, content, argv):
    """'shortcuts set' used to write defaults over an unreadable settings.json (and a JSON list in
    it ended in a traceback): the user's other settings were lost."""
    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path))
    f = tmp_path / "settings.json"
    f.write_text(content)
    before = fingerprint(tmp_path)
    res = cli(*argv)
    assert_refused(res, "settings.json")
    assert fingerprint(tmp_path) == before
