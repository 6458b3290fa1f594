"""Per-sample recognition features: face-aligned onset → apex motion, three views.

For each sample the onset and apex frames are read through its :class:`FrameSource`; the MediaPipe
Face Landmarker (:mod:`analysis.face.landmarker`) finds the face on the onset frame and both frames
are warped with the same similarity (eyes to fixed places, :func:`analysis.spotting.regions.
align_matrix`) into a ``CROP``-px face crop. Then, on a ``GRID``×``GRID`` grid (area-averaged):

``rgb``    optical flow onset → apex (DIS, as the spotter uses): u, v and optical strain
           ``sqrt(ux² + vy² + ½(uy + vx)²)``; the face's median flow (rigid translation) removed.
``roi``    the same flow read per landmark region of interest (the spotter's 17 facial regions:
           inner/outer brows, lids, cheeks, nose wings, lips, mouth corners, chin, nose bridge;
           Gaussian neighbourhoods of MediaPipe mesh landmarks): each region's weighted mean u, v
           and strain, painted over the pixels where that region weighs most (within 2 σ of its
           landmarks), 0 elsewhere — the flow where the AUs act, averaged (less noise), at the
           place the landmarks put it on this face.
``diff``   the apex − onset grey difference image and its x/y gradients (a second RGB view, for
           contrastive pretraining where a dataset has no depth).
``depth``  apex − onset depth difference (mm) after head-pose compensation — a plane fitted by
           robust least squares to the difference over the face and removed, so rigid head
           translation and small rotations vanish — clipped to ±8 mm, and its x/y gradients.
           Each end is the mean of ``DEPTH_AVG`` depth frames (onset: the onset and the frames
           just before it, the face at rest; apex: the apex and its neighbours inside the
           expression), per pixel over the frames with a reading: a depth sensor's noise is
           of the order of a micro-expression's 1-4 mm and independent from frame to frame,
           so the mean of 3 frames has ~0.58 of one frame's noise.

Features are cached per sample with :mod:`analysis.features_cache`, keyed by the content of the
files read and by :data:`PARAMS`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InputError
from acquisition.session_read.names import SIDECAR

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from analysis.datasets.sample import FrameSource

VIEWS = ("rgb", "diff", "depth", "roi")
CROP = 112
GRID = 32
VERSION = 1  # rgb and diff (and the model file's feature version); depth's averaging is in PARAMS
DEPTH_AVG = 3  # depth frames averaged at each end (1: the onset and apex frames alone, as in version 1)
PARAMS = {"v": VERSION, "crop": CROP, "grid": GRID, "flow": "dis-ultrafast-fs1", "depth_avg": DEPTH_AVG}
CHANNELS = {"rgb": 3, "diff": 3, "depth": 3, "roi": 3}


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _pool(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(a.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)


def roi_view(maps: tuple[np.ndarray, ...], lm_crop: np.ndarray) -> np.ndarray:
    """The ``roi`` view: per landmark region, the weighted mean of each of ``maps`` (CROP×CROP),
    painted over the pixels where the region weighs most (within 2 σ), pooled to GRID×GRID."""
    from analysis.spotting import regions as R

    owner = np.full((CROP, CROP), -1, np.int16)
    best = np.full((CROP, CROP), np.exp(-2.0), np.float32)  # a region owns a pixel within 2 σ of it
    means = []
    for r, (ys, xs, w) in enumerate(R.region_boxes(lm_crop, CROP)):
        means.append([float((w * mp[ys, xs]).sum()) for mp in maps])
        g = w / max(float(w.max()), 1e-12)
        sub_best, sub_owner = best[ys, xs], owner[ys, xs]
        win = g > sub_best
        sub_best[win], sub_owner[win] = g[win], r
    vals = np.zeros((len(maps), CROP, CROP), np.float32)
    mine = owner >= 0
    table = np.asarray(means, np.float32)  # (regions, maps)
    for c in range(len(maps)):
        vals[c][mine] = table[owner[mine], c]
    return np.stack([_pool(v) for v in vals])


def rgb_views(
    on: np.ndarray, ap: np.ndarray, m: np.ndarray, mask: np.ndarray, lm_crop: np.ndarray | None = None
) -> dict:
    """``rgb`` and ``diff`` views from onset/apex RGB frames and the 2×3 alignment ``m``; and ``roi``
    when the onset's landmarks in crop coordinates (``lm_crop``) are given."""
    import cv2

    from analysis.spotting.flow import make_dis

    g0 = cv2.warpAffine(_gray(on), m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    g1 = cv2.warpAffine(_gray(ap), m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    flow = make_dis().calc(g0, g1, None)
    flow -= np.median(flow[mask], axis=0)
    u, v = flow[..., 0], flow[..., 1]
    uy, ux = np.gradient(u)
    vy, vx = np.gradient(v)
    strain = np.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2)
    d = (g1.astype(np.float32) - g0.astype(np.float32)) / 8.0
    dy, dx = np.gradient(d)
    out = {
        "rgb": np.stack([_pool(u), _pool(v), _pool(strain * 10.0)]),
        "diff": np.stack([_pool(d), _pool(dx * 4.0), _pool(dy * 4.0)]),
    }
    if lm_crop is not None:
        out["roi"] = roi_view((u, v, strain * 10.0), lm_crop)
    return out


def _mean_depth(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Per pixel the mean of the frames' readings (0 = no reading, left out); 0 where none has one."""
    if isinstance(frames, np.ndarray):
        return frames.astype(np.float32)
    st = np.stack([np.asarray(f, np.float32) for f in frames])
    n = (st > 0).sum(axis=0)
    return np.where(n > 0, st.sum(axis=0) / np.maximum(n, 1), 0.0).astype(np.float32)


def depth_view(
    d0: np.ndarray | Sequence[np.ndarray],
    d1: np.ndarray | Sequence[np.ndarray],
    m: np.ndarray,
    mask: np.ndarray,
    to_mm: float,
) -> np.ndarray:
    """The ``depth`` view from raw onset/apex depth frames (one each, or several to average: see
    ``DEPTH_AVG``) mapped by ``m`` (2×3)."""
    import cv2

    w0 = cv2.warpAffine(_mean_depth(d0), m, (CROP, CROP), flags=cv2.INTER_NEAREST)
    w1 = cv2.warpAffine(_mean_depth(d1), m, (CROP, CROP), flags=cv2.INTER_NEAREST)
    ok = (w0 > 0) & (w1 > 0)
    diff = (w1 - w0) * np.float32(to_mm)
    fit = ok & mask
    if fit.sum() >= 10:
        yy, xx = np.nonzero(fit)
        a = np.stack([xx, yy, np.ones_like(xx)], axis=1).astype(np.float64)
        z = diff[fit].astype(np.float64)
        keep = np.ones(len(z), bool)
        for _ in range(3):
            coef, *_ = np.linalg.lstsq(a[keep], z[keep], rcond=None)
            r = z - a @ coef
            mad = np.median(np.abs(r[keep] - np.median(r[keep]))) + 1e-6
            keep = np.abs(r) <= 3 * 1.4826 * mad + 0.5
            if keep.sum() < 10:
                break
        gy, gx = np.mgrid[0:CROP, 0:CROP]
        diff = diff - (coef[0] * gx + coef[1] * gy + coef[2]).astype(np.float32)
    diff = np.where(ok, np.clip(diff, -8.0, 8.0), 0.0).astype(np.float32)
    dy, dx = np.gradient(diff)
    return np.stack([_pool(diff), _pool(dx * 4.0), _pool(dy * 4.0)])


def _depth_affine(rgb_shape, depth_shape, meta: dict | None) -> tuple[np.ndarray, float]:
    """2×3 depth px → rgb px, and the depth unit in mm."""
    from analysis.face.depth import DepthMapper

    meta = meta or {}
    intr = meta.get("intrinsics") or {}
    dm = DepthMapper(
        float(meta.get("depth_units_m") or 0.001),
        intr.get("rgb"),
        intr.get("depth"),
        (rgb_shape[1], rgb_shape[0]),
        (depth_shape[1], depth_shape[0]),
    )
    sx, sy = dm.cfx / dm.fx, dm.cfy / dm.fy
    return np.array([[sx, 0, dm.cppx - dm.ppx * sx], [0, sy, dm.cppy - dm.ppy * sy]]), dm.to_mm


def _compose(m: np.ndarray, a: np.ndarray) -> np.ndarray:
    """m ∘ a for 2×3 affines."""
    m3 = np.vstack([m, [0, 0, 1]])
    a3 = np.vstack([a, [0, 0, 1]])
    return (m3 @ a3)[:2]


def _nearest(src, k: int, lo: int, hi: int) -> int | None:
    if src.has(k):
        return k
    for d in range(1, hi - lo + 1):
        for c in (k - d, k + d):
            if lo <= c <= hi and src.has(c):
                return c
    return None


def depth_frames(
    src: FrameSource, on: int, ap: int, lo: int, hi: int, n: int | None = None
) -> tuple[list[int], list[int]]:
    """The depth frames averaged at the onset (``on`` and the ``n - 1`` before it: the face at rest)
    and at the apex (``ap`` and its neighbours, kept inside ``lo``..``hi``, the expression), those
    the source has; ``on`` and ``ap`` first. ``n``: :data:`DEPTH_AVG`."""
    n = DEPTH_AVG if n is None else int(n)
    rest = [k for k in range(on, on - n, -1) if k >= 0 and src.has(k)]
    peak = [ap] + [k for d in range(1, n) for k in (ap + d, ap - d) if lo <= k <= hi]
    peak = [k for k in peak if src.has(k)][:n]
    return rest, peak


def _session_meta(sample) -> dict | None:
    if sample.dataset != "mexlab":
        return None
    import json
    from pathlib import Path

    try:
        return json.loads((Path(sample.rgb.path).parent / SIDECAR).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def compute(
    samples: list, *, progress: Callable[[int, int], None] | None = None
) -> tuple[list[dict | None], list[str]]:
    """Per sample: ``{view: (C, GRID, GRID) float32}`` (``depth`` only where the sample has depth),
    or None with a problem saying why."""
    from analysis import features_cache as fc
    from analysis.datasets.sample import read_frames
    from analysis.spotting import regions as R

    out: list[dict | None] = [None] * len(samples)
    problems: list[str] = []
    todo: dict[str, list[tuple[int, int, int, dict]]] = defaultdict(list)
    for i, s in enumerate(samples):
        on = _nearest(s.rgb, s.onset, s.onset, s.apex)
        ap = _nearest(s.rgb, s.apex, s.onset, s.offset)
        if on is None or ap is None or on == ap and s.onset != s.apex:
            problems.append(f"{s.origin}: onset/apex frames missing in {s.rgb.path}; sample left out")
            continue
        files = [s.rgb.anchor(on), s.rgb.anchor(ap)]
        dk = None
        if s.depth is not None:
            dk = depth_frames(s.depth, on, ap, s.onset, s.offset)
            files += [s.depth.anchor(k) for k in dk[0] + dk[1]]
        key = fc.cache_key(files, {**PARAMS, "depth_avg": DEPTH_AVG, "on": on, "ap": ap, "depth_frames": dk})
        hit = fc.load(files[1], key)
        if hit is not None and "roi" in hit:
            out[i] = {k: v.astype(np.float32) for k, v in hit.items() if k in VIEWS}
            continue
        todo[s.rgb.path].append((i, on, ap, {"key": key, "anchor": files[1], "depth": dk}))
    if not todo:
        return out, problems
    from analysis.face.landmarker import FaceTracker

    done = 0
    total = sum(len(v) for v in todo.values())
    ts = 0.0
    with FaceTracker() as tracker:
        for path, items in todo.items():
            s0 = samples[items[0][0]]
            frames = {k for _, on, ap, _ in items for k in (on, ap)}
            rgbs = read_frames(s0.rgb, frames)
            want = {k for *_, c in items if c["depth"] for k in c["depth"][0] + c["depth"][1]}
            depths = read_frames(s0.depth, want, depth=True) if s0.depth is not None and want else {}
            meta = _session_meta(s0)
            for i, on, ap, c in items:
                s = samples[i]
                done += 1
                if on not in rgbs or ap not in rgbs:
                    problems.append(
                        f"{s.origin}: frame {on if on not in rgbs else ap} cannot be read from {path}; sample left out"
                    )
                    continue
                ts += 1000.0
                face = tracker.process(rgbs[on], ts)
                if face is None:
                    problems.append(f"{s.origin}: no face found on the onset frame {on}; sample left out")
                    continue
                m = R.align_matrix(face.landmarks, CROP)
                lm_crop = R.to_crop(m, face.landmarks)
                mask = R.face_mask(lm_crop, CROP)
                feats = rgb_views(rgbs[on], rgbs[ap], m, mask, lm_crop)
                rest = [depths[k] for k in (c["depth"] or ([], []))[0] if k in depths]
                peak = [depths[k] for k in (c["depth"] or ([], []))[1] if k in depths]
                if rest and peak:
                    a, to_mm = _depth_affine(rgbs[on].shape, rest[0].shape, meta)
                    if s.dataset != "mexlab":
                        to_mm = 1.0  # the releases store depth in mm
                    feats["depth"] = depth_view(rest, peak, _compose(m, a), mask, to_mm)
                feats = {k: v.astype(np.float32) for k, v in feats.items()}
                fc.save(c["anchor"], c["key"], feats)
                out[i] = feats
                if progress is not None:
                    progress(done, total)
    return out, problems


def check_views(views: Iterable[str]) -> tuple[str, ...]:
    views = tuple(views)
    bad = [v for v in views if v not in VIEWS]
    if bad or not views:
        raise InputError(f"views {','.join(views) or '(none)'}: each must be one of {', '.join(VIEWS)}")
    return views
