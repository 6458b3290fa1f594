"""`mexlab check` (acquisition.check) on real XDF files: the shared LabRecorder files, recordings made
here through LabRecorderCLI from real LSL outlets, and files that are not XDF (session folders:
test_check_session.py)."""

from __future__ import annotations

import pytest

from acquisition.check import INTERRUPTED_PROBLEM, check_path, format_check
from acquisition.errors import MexlabError
from tests.helpers_check import assert_shape, shared_xdf, stream_named
from tests.helpers_lsl import make_outlet, push_regular, record, unique_name

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder, pytest.mark.shared]


# ------------------------------------------------------------------------------------------------
# the shared LabRecorder files


def test_minimal_xdf():
    report = check_path(shared_xdf("minimal.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    data = stream_named(report, "SendDataC")
    assert (data["type"], data["channel_count"], data["nominal_srate"]) == ("EEG", 3, 10.0)
    assert data["sample_count"] == 9
    assert data["gaps"] == 0
    assert data["effective_srate"] == pytest.approx(10.0)
    assert data["first_timestamp"] == pytest.approx(5.0)
    assert data["last_timestamp"] == pytest.approx(5.8)
    markers = stream_named(report, "SendDataString")
    assert markers["sample_count"] == 9 and markers["channel_count"] == 1
    assert report["videos"] == []


def test_clock_resets_xdf():
    report = check_path(shared_xdf("clock_resets.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    eeg = stream_named(report, "BioSemi")
    assert eeg["sample_count"] == 27_815
    assert eeg["channel_count"] == 8 and eeg["nominal_srate"] == 100.0
    markers = stream_named(report, "MyMarkerStream")
    assert markers["sample_count"] == 175
    assert markers["gaps"] == 0  # irregular stream
    # pyxdf maps both sides of the sender's clock reset onto the recorder's clock: the time line
    # runs forward (raw timestamps would jump back by ~650,000 s) and spans the ~573 s recorded.
    assert 0 < eeg["last_timestamp"] - eeg["first_timestamp"] < 600
    assert 0 < markers["last_timestamp"] - markers["first_timestamp"] < 600
    # 10 gaps, not hundreds: 1 is the ~274 s pause in which the sender restarted (its clock
    # reset), 9 are 21-36 ms intervals (this device really runs at ~93 Hz, so 2 nominal periods
    # is under 2 of its own).
    assert eeg["gaps"] == 10
    assert 90 < eeg["effective_srate"] < 95


def test_empty_streams_xdf():
    report = check_path(shared_xdf("empty_streams.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    counts = sorted(s["sample_count"] for s in report["streams"])
    assert counts == [0, 0, 1, 10]
    for s in report["streams"]:
        if s["sample_count"] == 0:
            assert s["first_timestamp"] is None and s["last_timestamp"] is None
            assert s["effective_srate"] is None and s["gaps"] == 0
    data = stream_named(report, "Data stream: test stream 0 counter")
    assert data["sample_count"] == 10 and data["gaps"] == 0
    assert data["effective_srate"] == pytest.approx(1.0, rel=1e-3)


def test_truncated_xdf_is_interrupted_and_readable(tmp_path):
    source = shared_xdf("clock_resets.xdf").read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(source[: int(len(source) * 0.6)])  # ends inside a chunk, no footers
    report = check_path(cut)
    assert_shape(report)
    assert report["status"] == "interrupted" and not report["ok"]
    assert report["problems"][0] == INTERRUPTED_PROBLEM
    eeg = stream_named(report, "BioSemi")
    assert 10_000 < eeg["sample_count"] < 27_815


def test_damaged_chunk_is_skipped_and_reported(tmp_path):
    data = bytearray(shared_xdf("clock_resets.xdf").read_bytes())
    # walk the chunks and break the length field of the 200th Samples chunk
    pos, samples_chunks = 4, []
    while pos < len(data):
        nbytes = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nbytes], "little")
        if int.from_bytes(data[pos + 1 + nbytes : pos + 3 + nbytes], "little") == 3:
            samples_chunks.append(pos)
        pos += 1 + nbytes + length
    data[samples_chunks[200]] = 7  # not a valid length-field size (1, 4 or 8)
    damaged = tmp_path / "damaged.xdf"
    damaged.write_bytes(bytes(data))
    report = check_path(damaged)
    assert_shape(report)
    assert not report["ok"]
    assert any("damaged" in p and "malformed chunk" in p for p in report["problems"])
    # reading resumed at the next boundary chunk: the footers were reached, samples were lost
    assert report["status"] == "complete"
    eeg = stream_named(report, "BioSemi")
    assert 20_000 < eeg["sample_count"] < 27_815
    assert any("'BioSemi'" in p and "missing" in p for p in report["problems"])


# ------------------------------------------------------------------------------------------------
# recordings made here with LabRecorderCLI


def test_labrecorder_recording_counts_one_gap(tmp_path):
    srate, n = 500.0, 1000  # 2 s
    emg = make_outlet(unique_name("emg"), "EMG", 2, srate)
    markers = make_outlet(unique_name("markers"), "Markers", 1, 0.0, "string")
    pushed = {}

    def body():
        markers.push_sample(["start"])
        # samples 400..449 (0.1 s) are never pushed: exactly one gap of 0.102 s
        pushed["emg"], _ = push_regular(emg, srate, n, channel_count=2, skip=range(400, 450))
        markers.push_sample(["gap-was-here"])
        markers.push_sample(["end"])

    path = record(tmp_path / "rec.xdf", [emg, markers], body)
    report = check_path(path)
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    s = stream_named(report, emg.get_info().name())
    assert pushed["emg"] == 950
    assert s["sample_count"] == 950
    assert s["gaps"] == 1
    assert (s["type"], s["channel_count"], s["nominal_srate"]) == ("EMG", 2, 500.0)
    assert s["effective_srate"] == pytest.approx(500.0, rel=1e-3)
    assert s["last_timestamp"] - s["first_timestamp"] == pytest.approx(999 / srate, abs=1e-3)
    m = stream_named(report, markers.get_info().name())
    assert m["sample_count"] == 3 and m["gaps"] == 0 and m["nominal_srate"] == 0.0


def test_killed_labrecorder_is_interrupted(tmp_path):
    emg = make_outlet(unique_name("emg"), "EMG", 2, 500.0)

    def body():
        push_regular(emg, 500.0, 500, channel_count=2)

    path = record(tmp_path / "killed.xdf", [emg], body, kill=True)
    report = check_path(path)
    assert_shape(report)
    assert report["status"] == "interrupted" and not report["ok"]
    assert INTERRUPTED_PROBLEM in report["problems"]
    s = stream_named(report, emg.get_info().name())
    assert 0 < s["sample_count"] <= 500 and s["gaps"] == 0
    assert "interrupted" in format_check(report)


# ------------------------------------------------------------------------------------------------
# bad inputs


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "nope" / "recording.xdf"
    with pytest.raises(MexlabError) as err:
        check_path(missing)
    assert str(missing) in str(err.value)


def test_text_file_named_xdf(tmp_path):
    fake = tmp_path / "x.xdf"
    fake.write_text("hello, I am a text file\n")
    with pytest.raises(MexlabError) as err:
        check_path(fake)
    assert str(fake) in str(err.value) and "not an XDF file" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"XD", b"XDF:", b"XDF:\x01\x40\x01\x00<?xml vers"])
def test_truncated_header(tmp_path, content):
    path = tmp_path / "short.xdf"
    path.write_bytes(content)
    with pytest.raises(MexlabError) as err:
        check_path(path)
    assert str(path) in str(err.value)


def test_folder_without_session_json(tmp_path):
    folder = tmp_path / "not-a-session"
    folder.mkdir()
    (folder / "recording.xdf").write_bytes(b"XDF:")
    with pytest.raises(MexlabError) as err:
        check_path(folder)
    assert str(folder) in str(err.value) and "session.json" in str(err.value)


def test_pyxdf_is_silenced(capfd, tmp_path):
    # clock_resets.xdf makes pyxdf warn ("Segments and clock-segments differ") on stderr
    check_path(shared_xdf("clock_resets.xdf"))
    out, err = capfd.readouterr()
    assert "pyxdf" not in err and "Segments" not in err, err
