"""A coder's work is never lost to a bad file: `annotations import` checks every row before the
catalog is touched and replaces an earlier coding only with --replace; an export replaces an earlier
file only when the new one is whole (killed or out of disk space, the old file stays)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from analysis.annotation.clip import open_clip
from analysis.annotation.store import AnnotationStore
from tests.helpers_badinput import assert_refused, cli, fingerprint, recorded_session
from tests.helpers_paths import MEXLAB, REPO

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return recorded_session(tmp_path_factory)


def _events(db, session):
    with AnnotationStore(db) as store:
        return [(e.coder, e.onset, e.apex, e.offset, e.type) for e in store.events(open_clip(session).session_id)]


GOOD = "onset,apex,offset,type,aus\n10,14,20,micro,AU4\n60,66,75,,AU12\n"


@pytest.mark.parametrize(
    "row, needles",
    [
        ("30,25,20,micro,AU4", ["row 2", "onset 30", "after offset 20"]),  # was swapped silently
        ("100,110,99999,,AU4", ["row 2", "offset frame 99999", "beyond the video"]),
        ("-3,,5,,", ["row 2", "onset frame -3", "before the first frame"]),
        ("10,12,14,blink,", ["row 2", "type 'blink'", "column 'type'", "not micro or macro"]),  # was micro
        ("10,40,20,,AU4", ["row 2", "apex 40", "outside the event"]),
        ("10,12,x,,", ["row 2", "offset 'x'", "column 'offset'"]),
        ("1e400,12,14,,", ["row 2", "onset '1e400'"]),
    ],
)
def test_a_bad_row_is_refused_and_the_coders_events_are_kept(session, tmp_path, private_catalog, row, needles):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    r = cli("annotations", "import", good, "--session", session, "--coder", "alice")
    assert r.returncode == 0, r.stderr
    before = _events(private_catalog, session)
    assert len(before) == 2
    bad.write_text("onset,apex,offset,type,aus\n" + row + "\n")
    for extra in ((), ("--replace",)):  # even when told to replace, a bad file replaces nothing
        r = cli("annotations", "import", bad, "--session", session, "--coder", "alice", *extra)
        assert_refused(r, "bad.csv", "nothing imported", *needles)
        assert _events(private_catalog, session) == before


def test_every_bad_row_is_named_at_once(session, tmp_path):
    bad = tmp_path / "many.csv"
    bad.write_text("onset,offset,type\n1,2,\n30,20,\n5,6,blink\n" + "".join(f"{-i},{i},\n" for i in range(1, 12)))
    r = cli("annotations", "import", bad, "--session", session, "--coder", "alice")
    assert_refused(r, "many.csv", "13 bad row(s)", "row 3:", "row 4:", "and 5 more")


def test_sheet_and_elan_rows_name_their_columns(session, tmp_path):
    n = open_clip(session).n_frames
    sheet = tmp_path / "samm.csv"
    sheet.write_text(
        f"Subject,Filename,Onset Frame,Apex Frame,Offset Frame,Type\nP,s1,5,6,{n + 1},Micro - 1/2\n"
    )  # 1-based: frame n+1 is past the end
    r = cli("annotations", "import", sheet, "--session", session, "--coder", "alice", "--format", "samm")
    assert_refused(r, "samm.csv", "row 2", f"offset frame {n + 1}", "'Offset Frame'", f"1..{n}")
    sheet.write_text("Subject,Filename,Onset Frame,Apex Frame,Offset Frame,Type\nP,s1,5,6,8,Micro - 1/2\n")
    r = cli("annotations", "import", sheet, "--session", session, "--coder", "alice", "--format", "samm")
    assert r.returncode == 0, r.stderr  # SAMM's own type words are read
    eaf = tmp_path / "x.eaf"
    eaf.write_text(
        '<?xml version="1.0"?><ANNOTATION_DOCUMENT><TIME_ORDER>'
        '<TIME_SLOT TIME_SLOT_ID="a" TIME_VALUE="100"/><TIME_SLOT TIME_SLOT_ID="b" TIME_VALUE="300"/>'
        '</TIME_ORDER><TIER TIER_ID="bob/event"><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="x" '
        'TIME_SLOT_REF1="a" TIME_SLOT_REF2="b"><ANNOTATION_VALUE>blink</ANNOTATION_VALUE>'
        '</ALIGNABLE_ANNOTATION></ANNOTATION></TIER></ANNOTATION_DOCUMENT>'
    )
    r = cli("annotations", "import", eaf, "--session", session)
    assert_refused(r, "x.eaf", "row at 100 ms", "'blink'", "bob/event")


def test_replacing_a_coding_needs_replace_and_says_what_it_replaces(session, tmp_path, private_catalog):
    a = tmp_path / "a.csv"
    a.write_text(GOOD)
    assert cli("annotations", "import", a, "--session", session, "--coder", "alice").returncode == 0
    before = _events(private_catalog, session)
    b = tmp_path / "b.csv"
    b.write_text("onset,offset\n100,104\n")
    r = cli("annotations", "import", b, "--session", session, "--coder", "alice")
    assert_refused(r, "already coded", "'alice' has 2 event(s)", "--replace")
    assert _events(private_catalog, session) == before
    r = cli("annotations", "import", b, "--session", session, "--coder", "bob")  # another coder: fine
    assert r.returncode == 0, r.stderr
    r = cli("annotations", "import", b, "--session", session, "--coder", "alice", "--replace")
    assert r.returncode == 0, r.stderr
    assert "imported 1 event(s) of coder alice" in r.stdout and "replacing their 2 earlier event(s)" in r.stdout
    assert [e for e in _events(private_catalog, session) if e[0] == "alice"] == [("alice", 100, None, 104, "micro")]


def _mount_tmpfs(path, size):
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.parametrize("fmt, name", [("samm", "x.xlsx"), ("csv", "x.csv"), ("eaf", "x.eaf")])
def test_an_export_that_fails_on_a_full_disk_keeps_the_earlier_file(session, tmp_path, fmt, name):
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        src = tmp_path / "a.csv"
        last = min(120, open_clip(session).n_frames - 3)  # fewer frames under heavy load
        src.write_text("onset,offset,notes\n" + "".join(f"{i},{i + 2},{'n' * 200}\n" for i in range(0, last, 3)))
        assert cli("annotations", "import", src, "--session", session, "--coder", "alice").returncode == 0
        out = disk / name
        r = cli("annotations", "export", session, "--coder", "alice", "--format", fmt, "--out", out)
        assert r.returncode == 0, r.stderr
        good = out.read_bytes()
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk to the last byte
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        r = cli("annotations", "export", session, "--coder", "alice", "--format", fmt, "--out", out)
        assert_refused(r, name, "No space left")
        assert out.read_bytes() == good
        assert not [p.name for p in disk.iterdir() if ".tmp" in p.name]
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_killed_xlsx_export_never_destroys_the_earlier_file(session, tmp_path):
    src = tmp_path / "a.csv"
    rows = range(0, min(120, open_clip(session).n_frames - 2), 2)  # fewer frames under heavy load
    src.write_text("onset,offset,notes\n" + "".join(f"{i},{i + 1},{'n' * 50}\n" for i in rows))
    assert cli("annotations", "import", src, "--session", session, "--coder", "alice").returncode == 0
    out = tmp_path / "alice.xlsx"
    cmd = [*MEXLAB, "annotations", "export", str(session), "--coder", "alice", "--format", "samm", "--out", str(out)]
    assert subprocess.run(cmd, capture_output=True, cwd=REPO, timeout=120).returncode == 0
    good = fingerprint(out)
    # kill it at several moments of its run, from start-up to the end of the write
    t_full = time.monotonic()
    subprocess.run(cmd, capture_output=True, cwd=REPO, timeout=120)
    t_full = time.monotonic() - t_full
    for frac in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95):
        p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(t_full * frac)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        assert out.is_file()
        data = out.read_bytes()
        assert data[:2] == b"PK" and len(data) == len(out.read_bytes())
        import openpyxl

        wb = openpyxl.load_workbook(out, read_only=True)  # whole: the old file or the new one
        assert wb.worksheets[0].max_row == 1 + len(rows)
        wb.close()
    assert good  # the earlier file was there to lose
