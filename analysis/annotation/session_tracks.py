"""What the Annotate workspace draws besides the physiology (no Qt): the spotted intervals of
``<session>/analysis/spotting.json`` and the AU proxy traces of the cached spotting features, both
on the coding time axis (seconds from the first video frame).

The AU traces come only from the feature cache the spotting left next to the video
(:mod:`analysis.features_cache`, same key as :func:`analysis.spotting.pipeline.spot` uses): opening a
session never runs the face model. No cache: no traces, and a note saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import MexlabError, SessionFormatError
from analysis.annotation.clip import Clip

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class Spotted:
    t0: float  # s from the first frame (onset)
    t1: float  # s (end of the offset frame)
    type: str
    score: float | None
    aus: str


def spotted_intervals(clip: Clip) -> list[Spotted]:
    """The intervals of the session's spotting.json ([] when the session was not spotted)."""
    from analysis.session_data import SPOTTING_FILE, read_spotting

    if clip.folder is None or not (clip.folder / SPOTTING_FILE).is_file():
        return []
    path = clip.folder / SPOTTING_FILE
    rows, _ = read_spotting(path)
    try:
        out = []
        for r in rows:
            aus = r.get("aus") or ""
            out.append(
                Spotted(
                    clip.time_of(int(r["onset"])),
                    clip.time_of(int(r["offset"]) + 1),
                    str(r.get("type", "micro")),
                    None if r.get("score") is None else float(r["score"]),
                    "+".join(map(str, aus)) if isinstance(aus, list) else str(aus),
                )
            )
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SessionFormatError(f"{path}: not a spotting result ({exc})") from None


def spotting_cache(clip: Clip) -> tuple[Path, str] | None:
    """``(video, cache key)`` of the features :func:`~analysis.spotting.pipeline.spot` caches for
    this session with its default parameters; None for a clip without a session folder."""
    if clip.folder is None or clip.rgb is None:
        return None
    from analysis.face.video import probe
    from analysis.spotting.features import cache_key
    from analysis.spotting.inputs import CROP, STRIDE, depth_mapper, resolve_input

    inp = resolve_input(clip.folder)
    mapper = depth_mapper(inp, probe(inp.video)) if inp.depth is not None else None
    return inp.video, cache_key(inp.video, inp.depth if mapper else None, mapper, STRIDE, CROP)


def au_traces(clip: Clip, top: int = 6) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """``(t, {AU: proxy per frame}, note)``: the ``top`` AU proxies that move most (robust range)
    from the cached spotting features; empty with a note when there is no cache."""
    from analysis import features_cache
    from analysis.face.aus import AU_NAMES, au_proxies

    empty = np.zeros(0)
    try:
        got = spotting_cache(clip)
    except MexlabError as exc:
        return empty, {}, f"AU traces: {exc}"
    if got is None:
        return empty, {}, "AU traces: not a session folder"
    arrays = features_cache.load(*got)
    if arrays is None or "blendshapes" not in arrays:
        return empty, {}, "AU traces: no cached spotting features (run Spot in Analyze first)"
    au = au_proxies(arrays["blendshapes"])  # (n, n_AU), NaN without a face
    n = au.shape[0]
    t = np.array([clip.time_of(i) for i in range(n)])
    with np.errstate(all="ignore"):
        lo, hi = np.nanpercentile(au, 5, axis=0), np.nanpercentile(au, 99, axis=0)
    spread = np.nan_to_num(hi - lo, nan=-1.0)
    order = [i for i in np.argsort(-spread)[:top] if spread[i] > 0]
    return t, {AU_NAMES[i]: au[:, i].astype(float) for i in sorted(order)}, ""


def face_boxes(clip: Clip) -> np.ndarray | None:
    """Per-frame face boxes (x0, y0, x1, y1 in frame pixels; NaN without a face) from the cached
    spotting features, for the face zoom; None when there is no cache."""
    from analysis import features_cache

    try:
        got = spotting_cache(clip)
    except MexlabError:
        return None
    arrays = features_cache.load(*got) if got is not None else None
    if arrays is None or "box" not in arrays:
        return None
    return np.asarray(arrays["box"], dtype=float)


def zoom_window(shape: tuple[int, int], zoom: float, box: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """The (y0, y1, x0, x1) crop for a zoom factor: centred on the face box when one is known (and
    never smaller than the face with a margin), else on the picture's centre."""
    h, w = shape
    ch, cw = int(h / zoom), int(w / zoom)
    cy, cx = h / 2.0, w / 2.0
    if box is not None and np.all(np.isfinite(box)):
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        scale = max((y1 - y0) * 1.4 / ch, (x1 - x0) * 1.4 / cw, 1.0)
        ch, cw = min(h, int(ch * scale)), min(w, int(cw * scale))
    y0 = int(min(max(0, cy - ch / 2), h - ch))
    x0 = int(min(max(0, cx - cw / 2), w - cw))
    return y0, y0 + ch, x0, x0 + cw
