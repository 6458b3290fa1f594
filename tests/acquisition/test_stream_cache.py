"""A session's streams kept read beside it (acquisition.session_read.stream_cache): the kept copy
gives back exactly what reading the XDF gives, is used instead of parsing it again, is replaced
when the XDF changes, and is never a requirement (a folder that cannot hold it); a spill folder
that cannot be written is said as such, never taken for a damaged XDF with samples silently lost."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

import acquisition.xdf_read as xdf_read
from acquisition.session_read import stream_cache
from acquisition.session_read.names import CACHE_DIR, XDF_NAME
from acquisition.xdf_read import SpillFailed, read_xdf_robust
from analysis.annotation.clip import open_clip
from analysis.annotation.track_set import load_tracks
from tests.helpers_session import make_session


def samples(stream: dict) -> tuple[np.ndarray, np.ndarray]:
    sp = stream.get("spilled")
    if sp is not None:
        ts, vals = sp.read()
        return ts, vals
    return np.asarray(stream["time_stamps"]), stream["time_series"]


def file_backed(a) -> bool:
    """Whether ``a`` is a view of a memory-mapped file (not a copy in memory)."""
    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a = getattr(a, "base", None)
    return False


def test_the_kept_copy_is_what_the_xdf_holds_and_is_read_instead_of_it(tmp_path, monkeypatch):
    folder = make_session(tmp_path / "s1")
    xdf = folder / XDF_NAME
    whole = read_xdf_robust(xdf)  # in memory, nothing spilled
    first = stream_cache.read_kept(xdf, folder)
    where = stream_cache.cache_dir(folder)
    assert (where / stream_cache.CONTENTS).is_file()
    spilled = [s for s in first.streams if s.get("spilled") is not None]
    assert [s["info"]["name"][0] for s in spilled] == ["sim-EMG"]  # 500 Hz: kept in files
    assert spilled[0]["spilled"].values.parent == where

    def parse_again(*a, **k):
        raise AssertionError("the XDF was parsed again although its kept copy is current")

    monkeypatch.setattr(xdf_read, "read_xdf_robust", parse_again)
    again = stream_cache.read_kept(xdf, folder)
    monkeypatch.undo()
    for got in (first, again):
        assert got.status == whole.status == "complete"
        assert got.summaries == whole.summaries
        assert [s["info"]["name"][0] for s in got.streams] == [s["info"]["name"][0] for s in whole.streams]
        for a, b in zip(got.streams, whole.streams):
            (ta, va), (tb, vb) = samples(a), samples(b)
            np.testing.assert_array_equal(ta, tb)
            if isinstance(vb, np.ndarray):
                np.testing.assert_array_equal(va, vb)
                assert va.dtype == vb.dtype
            else:
                assert va == vb  # the markers' strings
            assert a["info"]["desc"] == b["info"]["desc"]
    # the header is pyxdf's defaultdict: a missing field reads as empty, as from the XDF
    assert again.streams[0]["info"]["no such field"] == []


def test_a_changed_xdf_is_read_again_and_its_copy_replaced(tmp_path):
    folder = make_session(tmp_path / "s1")
    xdf = folder / XDF_NAME
    stream_cache.read_kept(xdf, folder)
    other = make_session(tmp_path / "s2", n_frames=150)  # a longer recording in its place
    xdf.write_bytes((other / XDF_NAME).read_bytes())
    got = stream_cache.read_kept(xdf, folder)
    index = next(s for s in got.streams if s["info"]["name"][0] == "mexlab-rgb-frames")
    assert index["time_stamps"].size == 150
    kept = sorted(p.name for p in (folder / CACHE_DIR).iterdir())
    assert kept == [stream_cache.STREAMS_DIR]  # no staging or old copy left behind


def test_a_folder_that_cannot_hold_the_copy_is_still_read(tmp_path):
    folder = make_session(tmp_path / "s1")
    (folder / CACHE_DIR).write_text("a file where the cache folder would go")
    got = stream_cache.read_kept(folder / XDF_NAME, folder)
    emg = next(s for s in got.streams if s["info"]["name"][0] == "sim-EMG")
    ts, vals = samples(emg)
    assert ts.size == vals.shape[0] > 0


def test_a_spill_folder_that_cannot_be_written_is_said_not_taken_for_damage(tmp_path):
    folder = make_session(tmp_path / "s1")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    with pytest.raises(SpillFailed, match="not-a-folder"):
        read_xdf_robust(folder / XDF_NAME, spill_dir=blocked / "spill")


def test_annotate_tracks_map_the_kept_emg_instead_of_reading_it(tmp_path):
    folder = make_session(tmp_path / "s1")
    ts = load_tracks(open_clip(folder))
    emg = ts.get("EMG6 (unit not in the file)")
    assert file_backed(emg.values) and file_backed(emg.t)
    assert emg.seconds()[0] == pytest.approx(-0.5)
