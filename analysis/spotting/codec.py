"""What a lossy, inter-coded video's encoding puts into the optical flow, and taking it out.

At a keyframe that starts a group of pictures again (:func:`acquisition.session_read.video.gop_starts`)
the encoder quantises the whole picture afresh. The flow from the frame before then sees the codec's
noise change as a one-frame jump of every region and of the rigid fit: on the varied rig's H.264
videos (CRF 18-32) the regions' mean speed at those frames was 2-47 times its 75th percentile, at the
frames on either side as usual (docs/spotting.md, twelfth round). With sensor noise or high frame
rates, where a frame's own motion is small, such a jump was flagged as an expression.

The flow of each such frame is replaced by the mean of the frames on either side: a movement through
it keeps its shape (one of a micro-expression's 8-15 frames at 30 fps). Features carry the frames
as ``gop_start`` (a per-frame mask, from the container, never stored in the feature cache: it is
read from the video's packets in milliseconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the per-frame motion arrays the repair applies to (region flow, its rigid part, the rigid fit)
REPAIRED = ("flow", "head_flow", "glob")


def gop_start_mask(video: str | Path, n: int) -> np.ndarray:
    """Per frame of ``video`` (``n`` frames as decoded): whether it starts a group of pictures again."""
    from acquisition.session_read.video import gop_starts

    mask = np.zeros(n, bool)
    idx = gop_starts(video)
    mask[idx[idx < n]] = True
    return mask


def repair_gop_starts(arrays: dict) -> dict:
    """``arrays`` (RecordArrays layout) with the flow of every ``gop_start`` frame replaced by the mean
    of its neighbours' (the one neighbour's at an end): a new dict with new copies of the repaired
    arrays, or ``arrays`` itself when no frame starts a group of pictures."""
    mask = arrays.get("gop_start")
    if mask is None or not np.any(mask):
        return arrays
    n = len(mask)
    k = np.flatnonzero(mask)
    before = np.maximum(k - 1, 0)
    after = np.minimum(k + 1, n - 1)
    before = np.where(before == k, after, before)  # the first frame: its one neighbour
    after = np.where(after == k, before, after)  # the last frame
    out = dict(arrays)
    for name in REPAIRED:
        a = arrays.get(name)
        if a is None or len(a) != n:
            continue
        a = a.copy()
        a[k] = 0.5 * (a[before] + a[after])
        out[name] = a
    return out
