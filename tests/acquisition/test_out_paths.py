"""Where a command writes one file (acquisition/atomic.check_out_file): a session's own files and
existing files of another kind are never replaced; earlier results of the same kind are."""

from __future__ import annotations

import pytest

from acquisition.atomic import check_out_file
from acquisition.errors import OutputError


@pytest.fixture()
def session(tmp_path):
    s = tmp_path / "S"
    (s / "analysis").mkdir(parents=True)
    for name in ("session.json", "rgb.mkv", "recording.xdf", "notes.json"):
        (s / name).write_bytes(b"precious")
    (s / "analysis" / "spotting.json").write_text("{}")
    return s


@pytest.mark.parametrize("name", ["session.json", "rgb.mkv", "recording.xdf", "notes.json"])
def test_a_session_folders_own_files_are_never_replaced(session, name):
    with pytest.raises(OutputError, match="session folder's own files"):
        check_out_file(session / name, (".json", ".mkv", ".xdf"))
    assert (session / name).read_bytes() == b"precious"


def test_what_may_be_written(session, tmp_path):
    # an earlier result of the same kind, in the analysis folder or elsewhere; a new file
    assert check_out_file(session / "analysis" / "spotting.json", (".json",)) == session / "analysis" / "spotting.json"
    (tmp_path / "old.json").write_text("{}")
    assert check_out_file(tmp_path / "old.json", (".json",)) == tmp_path / "old.json"
    assert check_out_file(session / "new.json", (".json",)) == session / "new.json"  # not there yet
    assert check_out_file(tmp_path / "RESULT.JSON", (".json",))  # the suffix in any case


def test_a_folder_a_missing_folder_another_kind_and_a_link(tmp_path):
    with pytest.raises(OutputError, match="--out .*: is a folder; give the path of the HTML file"):
        check_out_file(tmp_path, (".html",), what="HTML file")
    with pytest.raises(OutputError, match="the folder .*nope does not exist"):
        check_out_file(tmp_path / "nope" / "r.html", (".html",))
    assert check_out_file(tmp_path / "nope" / "r.csv", (".csv",), parent_must_exist=False)
    (tmp_path / "video.mkv").write_bytes(b"x")
    with pytest.raises(OutputError, match=r"--csv .*video.mkv: exists and is not a \.csv file"):
        check_out_file(tmp_path / "video.mkv", (".csv",), flag="--csv")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "gone.mkv")
    assert check_out_file(tmp_path / "dangling.json", (".json",))  # a link of the right kind: replaced
    (tmp_path / "link.mkv").symlink_to(tmp_path / "gone.mkv")
    with pytest.raises(OutputError, match="is not a .json file"):
        check_out_file(tmp_path / "link.mkv", (".json",))


def test_an_output_folder_is_never_a_session_folder(session, tmp_path):
    from acquisition.atomic import check_out_folder

    with pytest.raises(OutputError, match="--out .*S: is a session folder"):
        check_out_folder(session)
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_out_folder(session / "rgb.mkv", flag="--out")
    assert check_out_folder(session / "analysis" / "samples") == session / "analysis" / "samples"
    assert check_out_folder(tmp_path / "new") == tmp_path / "new"
