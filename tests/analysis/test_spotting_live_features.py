"""The live spotter's features as the session's feature cache (issue 14): what it kept while it saw
every frame equals, array for array, what offline extraction computes from the written files, and
offline spotting takes it instead of decoding the video — but only then: a gap, a missing depth
frame, other parameters or other pixels make it compute from the video as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder, pytest.mark.face_model]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from tests.helpers_sim import record_rig

    out = tmp_path_factory.mktemp("rec") / "s"
    record_rig(out, 5, 13)
    return out


def _inputs(session):
    from analysis.face.video import probe
    from analysis.spotting.inputs import depth_mapper, resolve_input

    inp = resolve_input(session)
    return inp, depth_mapper(inp, probe(inp.video))


def _frames(inp):
    from analysis.face.video import iter_frames

    depth = list(iter_frames(inp.depth, gray=False))
    for fr in iter_frames(inp.video, want_rgb=lambda i: True):
        yield fr, depth[fr.index].raw


def _keep(spotter, inp, mapper, *, skip=None, no_depth_at=None):
    """Push the session's frames as a recording does (LSL-like times, file frame numbers)."""
    spotter.keep_features(mapper)
    for fr, d in _frames(inp):
        if fr.index == skip:
            continue
        spotter.push(fr.rgb, 5000.0 + 1.0001 * fr.t, index=fr.index, depth=None if fr.index == no_depth_at else d)
    spotter.flush()


def _clear(inp):
    import shutil

    shutil.rmtree(inp.video.parent / ".mexlab-cache", ignore_errors=True)


def _put(path, arrays):
    path.parent.mkdir(exist_ok=True)
    np.savez(path, **arrays)


def _extract(inp, mapper, **kw):
    from analysis.spotting.features import extract_features

    return extract_features(inp.video, depth=inp.depth, depth_mapper=mapper, **kw)


def test_kept_features_equal_offline_extraction_and_are_taken_as_the_cache(session):
    from analysis.spotting.live_features import live_path
    from analysis.spotting.live_process import SpotterProcess
    from analysis.spotting.pipeline import spot

    inp, mapper = _inputs(session)
    assert mapper is not None and inp.depth is not None
    _clear(inp)
    sp = SpotterProcess(30, nice=0)  # the recorder's way: the spotter in a process of its own
    try:
        _keep(sp, inp, mapper)
        said = sp.save_features(str(live_path(inp.video)))
    finally:
        sp.close()
    assert said["complete"] and said["why_not"] is None and said["frames"] > 100
    assert live_path(inp.video).is_file()

    taken = _extract(inp, mapper)
    assert taken.from_cache and taken.timings.get("live") is True
    assert not live_path(inp.video).exists()  # now the ordinary cache, keyed on the files' content
    assert Path(taken.cache_file).is_file()
    fresh = _extract(inp, mapper, use_cache=False)
    assert fresh.n_frames == taken.n_frames == said["frames"]
    assert set(fresh.arrays) == set(taken.arrays)
    for k, a in fresh.arrays.items():
        b = taken.arrays[k]
        assert a.dtype == b.dtype and a.shape == b.shape, k
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{k} differs"
    # and spotting reads the cache (no decoding): the same intervals as from the fresh features
    res = spot(session, write_session_json=False)
    assert res.features.from_cache
    from analysis.spotting.pipeline import spot_features

    groups, _ = spot_features(fresh, fresh.fps)
    assert [(g.onset, g.offset) for g in groups] == [(i["onset"], i["offset"]) for i in res.intervals]


def test_incomplete_or_foreign_features_are_not_taken(session, tmp_path):
    from analysis.spotting.live import StreamingSpotter
    from analysis.spotting.live_features import live_path

    inp, mapper = _inputs(session)
    live = live_path(inp.video)

    # a frame not spotted: said, and nothing written
    _clear(inp)
    with StreamingSpotter(30) as sp:
        _keep(sp, inp, mapper, skip=40)
        said = sp.save_features(str(live))
    assert not said["complete"] and "frame 40 was not spotted" in said["why_not"] and not live.exists()

    # a colour frame without its depth frame
    with StreamingSpotter(30) as sp:
        _keep(sp, inp, mapper, no_depth_at=7)
        said = sp.save_features(str(live))
    assert not said["complete"] and "frame 7 came without its depth frame" in said["why_not"]

    # complete, but of other pixels: the video's middle frame is not the one it saw
    with StreamingSpotter(30) as sp:
        _keep(sp, inp, mapper)
        assert sp.save_features(str(live))["complete"]
    with np.load(live) as z:
        arrays = {k: z[k] for k in z.files}
    kept = dict(arrays)
    arrays["crc32"] = arrays["crc32"].copy()
    arrays["crc32"][len(arrays["crc32"]) // 2] ^= 1
    _put(live, arrays)
    got = _extract(inp, mapper)
    assert not got.timings.get("live") and not got.from_cache  # decoded and computed
    assert live.exists()  # left as it was

    # complete and of these pixels, but kept with other parameters (face model every 2nd frame)
    _clear(inp)
    meta = json.loads(str(kept["meta"]))
    _put(live, dict(kept, meta=np.array(json.dumps(dict(meta, stride=2)))))
    assert not _extract(inp, mapper).timings.get("live")
    # ... or without depth while the session has it
    _clear(inp)
    _put(live, dict(kept, meta=np.array(json.dumps(dict(meta, depth=False, depth_map=None)))))
    assert not _extract(inp, mapper).timings.get("live")
    # the same file, untouched, is taken: the refusals above were for what was changed
    _clear(inp)
    _put(live, kept)
    assert _extract(inp, mapper).timings.get("live") is True
