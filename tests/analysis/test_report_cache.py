"""The report cache (analysis.report.cache, issue 14): a session's analysis and timeline are read back
when nothing changed, computed again when an input file, the parameters or the code changed, and an
entry that was not written by this user (its HMAC) is never unpickled. Real sessions
(tests/helpers_session.py), the real analysis, real files."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from analysis.report import cache
from app.cli import main
from tests.helpers_session import make_session


def counts() -> tuple[int, int, int, int]:
    s = cache.STATS
    return s.session_hits, s.session_misses, s.timeline_hits, s.timeline_misses


def delta(before: tuple, after: tuple) -> tuple:
    return tuple(b - a for a, b in zip(before, after))


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "analysis").iterdir())


@pytest.fixture
def session(tmp_path) -> Path:
    return make_session(tmp_path / "s1", n_frames=90)


def test_read_back_when_unchanged_stale_when_an_input_changes(session):
    c0 = counts()
    sr, fig = cache.session_report(session)
    assert delta(c0, counts()) == (0, 1, 0, 1)
    assert [n for n in entries(session) if n.startswith("report-")] == [
        n for n in entries(session) if re.fullmatch(r"report-(session\.[0-9a-f]{10}|timeline)\.cache", n)
    ]
    assert len([n for n in entries(session) if n.startswith("report-")]) == 2
    assert not [n for n in entries(session) if ".tmp" in n]  # temp-and-rename left nothing behind
    c1 = counts()
    sr2, fig2 = cache.session_report(session)
    assert delta(c1, counts()) == (1, 0, 1, 0)  # nothing recomputed
    assert sr2.session.session_id == sr.session.session_id
    assert sr2.physio.to_json() == sr.physio.to_json() and len(fig2.axes) == len(fig.axes)

    # session.json rewritten (same content, new mtime): stale
    meta = session / "session.json"
    os.utime(meta, ns=(time.time_ns(), meta.stat().st_mtime_ns + 1_000_000))
    c2 = counts()
    cache.analyse_session(session)
    assert delta(c2, counts())[:2] == (0, 1)
    cache.analyse_session(session)
    assert delta(c2, counts())[:2] == (1, 1)

    # a spotting result that appears (analysis/spotting.json, read as the ME events): stale
    spot = {"fps": 30.0, "n_frames": 90, "intervals": [{"onset": 40, "apex": 44, "offset": 50, "type": "micro"}]}
    (session / "analysis" / "spotting.json").write_text(json.dumps(spot))
    c3 = counts()
    sr3 = cache.analyse_session(session)
    assert delta(c3, counts())[:2] == (0, 1) and len(sr3.session.me_events) == 1
    assert len(cache.analyse_session(session).session.me_events) == 1  # and read back with it

    # other parameters: their own entry
    c4 = counts()
    cache.analyse_session(session, use_truth=True)
    cache.analyse_session(session, use_truth=True)
    cache.analyse_session(session)
    assert delta(c4, counts())[:2] == (2, 1)

    # other code (the digest of the analysis' sources): stale
    c5 = counts()
    cache._digests[cache.SESSION_CODE] = "another version of the code"
    try:
        cache.analyse_session(session)
    finally:
        cache._digests.pop(cache.SESSION_CODE)
    assert delta(c5, counts())[:2] == (0, 1)


def test_an_entry_not_written_by_this_user_is_not_unpickled(session, tmp_path, monkeypatch):
    cache.analyse_session(session)
    (entry,) = (session / "analysis").glob("report-session.*.cache")
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0xFF  # the pickle edited, the key line kept
    entry.write_bytes(bytes(data))
    c0 = counts()
    sr = cache.analyse_session(session)
    assert delta(c0, counts())[:2] == (0, 1) and sr.session.session_id
    assert entry.read_bytes() != bytes(data)  # replaced by a good entry
    cache.analyse_session(session)
    assert delta(c0, counts())[:2] == (1, 1)
    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "another-user"))  # another secret
    cache.analyse_session(session)
    assert delta(c0, counts())[:2] == (1, 2)
    secret = tmp_path / "another-user" / "report-cache.secret"
    assert secret.stat().st_mode & 0o777 == 0o600  # owner-only from the start


def test_mexlab_report_twice_reads_the_session_back(session, tmp_path, capsys):
    out = tmp_path / "r.html"
    c0 = counts()
    assert main(["report", str(session), "--out", str(out)]) == 0
    first = out.read_text(encoding="utf-8")
    assert delta(c0, counts()) == (0, 1, 0, 1)
    c1 = counts()
    assert main(["report", str(session), "--out", str(out)]) == 0
    assert delta(c1, counts()) == (1, 0, 1, 0)  # neither the analysis nor the timeline recomputed
    capsys.readouterr()
    strip = lambda t: re.sub(r"generated [0-9: -]+ UTC", "", t)  # noqa: E731
    assert strip(out.read_text(encoding="utf-8")) == strip(first)  # the same page, the same images
