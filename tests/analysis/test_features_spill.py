"""Features of long videos in bounded memory (issue 14): the face model's landmarks spill to a
temporary file during extraction and come back as a memory map; the feature cache writes such a map
from its file and maps that member again when read."""

from __future__ import annotations

import gc
import os
import tempfile

import numpy as np
import pytest

from analysis import features_cache
from analysis.spotting.frames import SpilledRows


def _rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(300, 80, (n, 478, 2)).astype(np.float16)


def test_spilled_rows_come_back_from_their_file_which_goes_with_the_last_view():
    rows = _rows(9)
    s = SpilledRows((478, 2), np.float16)
    for r in rows:
        s.append(r.astype(np.float32))  # converted as stored
    a = s.array()
    assert isinstance(a, np.memmap) and not a.flags.writeable
    np.testing.assert_array_equal(a, rows)
    name = a.filename
    assert os.path.getsize(name) == rows.nbytes
    with pytest.raises(RuntimeError):
        s.append(rows[0])
    assert s.array() is a  # the same map again
    view = a[2:4]
    del a, s
    gc.collect()
    assert os.path.exists(name)  # a view still reads it
    np.testing.assert_array_equal(view, rows[2:4])
    del view
    gc.collect()
    assert not os.path.exists(name)


def test_spilled_rows_stay_in_memory_when_no_temporary_file_can_be_made(monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", "/nonexistent/mexlab-no-such-folder")
    rows = _rows(4, 1)
    s = SpilledRows((478, 2), np.float16)
    for r in rows:
        s.append(r)
    a = s.array()
    assert not isinstance(a, np.memmap)
    np.testing.assert_array_equal(a, rows)
    empty = SpilledRows((478, 2), np.float16).array()
    assert empty.shape == (0, 478, 2)


def test_the_cache_writes_a_spilled_member_from_its_file_and_maps_it_when_read(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(os.urandom(4096))
    rows = _rows(12, 2)
    s = SpilledRows((478, 2), np.float16)
    for r in rows:
        s.append(r)
    arrays = {"t": np.arange(30) / 30.0, "kf_index": np.arange(0, 36, 3, dtype=np.int32), "kf_landmarks": s.array()}
    p = features_cache.save(video, "k", arrays)
    assert p is not None
    with np.load(p) as z:  # a plain .npz that numpy reads
        assert sorted(z.files) == ["kf_index", "kf_landmarks", "t"]
        np.testing.assert_array_equal(z["kf_landmarks"], rows)
        np.testing.assert_array_equal(z["t"], arrays["t"])
    back = features_cache.load(video, "k")
    assert isinstance(back["kf_landmarks"], np.memmap) and not isinstance(back["t"], np.memmap)
    np.testing.assert_array_equal(back["kf_landmarks"], rows)
    # a compressed member (an .npz written by someone else) is read into memory, the same values
    np.savez_compressed(p, t=arrays["t"], kf_landmarks=rows)
    again = features_cache.load(video, "k")
    assert not isinstance(again["kf_landmarks"], np.memmap)
    np.testing.assert_array_equal(again["kf_landmarks"], rows)
    # a damaged cache is no cache
    p.write_bytes(p.read_bytes()[:100])
    assert features_cache.load(video, "k") is None


def test_a_spilling_store_gives_the_same_arrays_as_one_in_memory():
    from analysis.spotting.frames import N_REG, FrameRecord, RecordArrays

    rng = np.random.default_rng(4)
    recs = []
    for i in range(50):
        key, face = i % 3 == 0, i < 40
        r = FrameRecord(i, i / 30.0, keyframe=key, present=face)
        if face and key:
            r.pose, r.blendshapes = rng.normal(size=6), rng.random(52)
            r.landmarks = rng.normal(300, 50, (478, 2))
        if face and i > 0:
            r.flow, r.head_flow = rng.normal(size=(N_REG, 2)), rng.normal(size=(N_REG, 2))
            r.glob, r.rms = rng.normal(size=8), 0.1
        recs.append(r)
    plain, spilled = RecordArrays(8), RecordArrays(8, spill=True)  # both grow past their hint
    for r in recs:
        plain.add(r)
        spilled.add(r)
    a, b = plain.arrays(), spilled.arrays()
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert isinstance(b["head_flow"], np.memmap) and isinstance(b["kf_landmarks"], np.memmap)
    assert not isinstance(a["head_flow"], np.memmap)
    assert (b["head_flow"][40:] == 0).all() and (b["head_flow"][0] == 0).all()


def test_a_store_dropped_before_its_rows_are_read_takes_its_file_with_it():
    s = SpilledRows((478, 2), np.float16)
    s.append(_rows(1)[0])
    name = s._fh.name
    assert os.path.exists(name)
    del s
    gc.collect()
    assert not os.path.exists(name)
