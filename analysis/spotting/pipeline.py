"""Spotting, end to end: :func:`spot` takes a video file or a session folder and returns the
micro- and macro-expression intervals, with what interference elimination suppressed and why.

A session folder contributes everything it has: ``rgb.mkv`` (required), ``depth.mkv`` (head distance,
3-D head speed and the depth parallax term of head-motion compensation), the EMG stream of
``recording.xdf`` (bursts raise the score of candidates in the muscle's region) and its frame index
(to place EMG on video frames). The result is also written to ``<session>/analysis/spotting.json``.

This is the function the GUI and the ``mexlab spot`` command call::

    result = spot(path, progress=lambda done, total, stage: ...)
    result.as_dict()      # the JSON of `mexlab spot --json`
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from acquisition.errors import DataError, InputError, OutputError
from analysis.face.landmarker import BLENDSHAPE_NAMES
from analysis.face.video import probe
from analysis.session_data import SPOTTING_FILE
from analysis.spotting.codec import repair_gop_starts
from analysis.spotting.common_motion import CommonMotion
from analysis.spotting.detect import (
    DetectParams,
    Group,
    all_candidates,
    detrend,
    face_width_px,
    finish_group,
    group_candidates,
    report_ends,
    returns_after,
)
from analysis.spotting.emg import EmgEvidence, EmgParams, load_emg
from analysis.spotting.features import Features, extract_features
from analysis.spotting.inputs import CROP, STRIDE, resolve_input
from analysis.spotting.inputs import depth_mapper as _depth_mapper
from analysis.spotting.interference import (
    HEAD_MOTION,
    InterferenceParams,
    Suppressed,
    blink_intervals,
    eliminate,
    head_signals,
    light_level,
    speech_mask,
)

SPOTTING_JSON = Path(SPOTTING_FILE)  # where session_data.load looks for it
Progress = Callable[[int, int, str], None]


@dataclass
class SpotParams:
    detect: DetectParams = field(default_factory=DetectParams)
    interference: InterferenceParams = field(default_factory=InterferenceParams)
    emg: EmgParams = field(default_factory=EmgParams)
    stride: int = STRIDE  # run the face model on every stride-th frame
    crop: int = CROP
    spotter: str = "hand"  # "learned": the TCN of analysis/spotting/learned.py (opt-in:
    # it measured worse on the tuning faces, docs/spotting.md)
    repair_gop_starts: bool = True  # the flow of frames where a lossy inter-coded video starts a group
    # of pictures again taken from their neighbours (analysis/spotting/codec.py; twelfth round)


@dataclass
class SpotResult:
    input: str
    fps: float
    n_frames: int
    frames_with_face: int
    intervals: list[dict]
    suppressed: list[dict]
    interference_elimination: bool = True
    features: Features | None = None
    notes: list[str] = field(default_factory=list)
    written: str | None = None

    def as_dict(self) -> dict:
        d = {
            "input": self.input,
            "fps": self.fps,
            "n_frames": self.n_frames,
            "frames_with_face": self.frames_with_face,
            "intervals": self.intervals,
            "suppressed": self.suppressed,
            "interference_elimination": self.interference_elimination,
        }
        if self.notes:
            d["notes"] = self.notes
        return d


def spot(
    path: str | Path,
    *,
    interference: bool = True,
    progress: Progress | None = None,
    use_cache: bool = True,
    params: SpotParams | None = None,
    write_session_json: bool = True,
) -> SpotResult:
    """Spot micro- and macro-expressions in a video file or a session folder."""
    p = params or SpotParams()
    inp = resolve_input(path)
    info = probe(inp.video)
    mapper = _depth_mapper(inp, info) if inp.depth is not None else None
    feat = extract_features(
        inp.video,
        depth=inp.depth if mapper else None,
        depth_mapper=mapper,
        stride=p.stride,
        crop=p.crop,
        progress=progress,
        use_cache=use_cache,
    )
    if feat.n_frames == 0:
        raise DataError(f"{inp.video}: the video holds no frame")
    if feat.frames_with_face == 0:
        raise DataError(f"{inp.video}: no face found in any of its {feat.n_frames} frames")
    notes: list[str] = []
    if inp.is_session:
        from analysis.session_data import video_shortfall

        short = video_shortfall(inp.session, "rgb", feat.n_frames, inp.video)
        if short:
            notes.append(short)
    if inp.depth is not None and mapper is None:
        notes.append(f"{inp.depth}: not a readable video; depth not used")
    emg = None
    if inp.xdf is not None:
        if progress:
            progress(0, 1, "EMG")
        emg = load_emg(inp.xdf, feat.n_frames, p.emg)
        if emg is not None:
            notes.extend(emg.notes)
    groups, suppressed = spot_features(feat, feat.fps, interference=interference, emg=emg, params=p)
    res = SpotResult(
        str(inp.path),
        round(float(feat.fps), 6),
        feat.n_frames,
        feat.frames_with_face,
        [interval_dict(g) for g in groups],
        [suppressed_dict(s) for s in suppressed],
        interference,
        feat,
        notes,
    )
    if inp.is_session and write_session_json:
        res.written = str(write_json(inp.path / SPOTTING_JSON, res.as_dict()))
    return res


#: the face model's blendshapes that say how far the eyes look sideways (eyeLookIn/Out, left and
#: right: the gaze rule's; docs/spotting.md, twelfth round)
GAZE_BLENDSHAPES = [i for i, name in enumerate(BLENDSHAPE_NAMES) if name.startswith(("eyeLookIn", "eyeLookOut"))]


def spot_features(
    feat: Features,
    fps: float,
    *,
    interference: bool = True,
    emg: EmgEvidence | None = None,
    params: SpotParams | None = None,
) -> tuple[list[Group], list[Suppressed]]:
    """Detection (+ EMG scoring, + interference elimination) on extracted features.

    With ``detect.micro_pass_s`` > 0 a second pass looks for micro-expressions in the flow with
    its moving mean over that many seconds taken out (slow head drift, what the first pass merges
    an expression into): its micro intervals that overlap nothing the first pass kept, and after
    which the face comes back in the first pass's flow (``detect.micro_pass_after_s``), are added.
    """
    p = params or SpotParams()
    dp, ip = p.detect, p.interference
    if p.repair_gop_starts:
        repaired = repair_gop_starts(feat.arrays)
        if repaired is not feat.arrays:
            feat = replace(feat, arrays=repaired)
    flow = feat.flow if interference else feat.flow + feat.head_flow
    valid = feat.flow_valid
    ctx = None
    if interference:
        from analysis.face.aus import AU_NAMES, au_proxies

        closure = au_proxies(feat.blendshapes)[:, AU_NAMES.index("AU45")].copy()  # not every AU's
        head = head_signals(feat.glob, feat.pose, feat.depth_face, fps, feat.crop)
        if "gain" in feat.arrays:  # features before version 7 have no brightness
            head["light"] = light_level(feat.arrays["gain"], valid)
        head["gaze"] = feat.blendshapes[:, GAZE_BLENDSHAPES]
        ctx = (closure, speech_mask(feat.flow, valid, fps, ip), head)
    face_px = face_width_px(feat.box, feat.present) if "box" in feat.arrays else None
    detrended = _detrended(flow, valid, fps, dp)  # the second pass's check looks at it again
    groups, suppressed = _one_pass(detrended, valid, fps, dp, p, emg, ctx, face_px)
    if interference and p.spotter == "learned":
        return _learned(feat, fps, suppressed)
    if dp.micro_pass_s > 0:
        dp2 = replace(dp, detrend_s=dp.micro_pass_s)
        more, more_s = _one_pass(_detrended(flow, valid, fps, dp2), valid, fps, dp2, p, emg, ctx, face_px)

        def free(a):
            return not any(_overlap(a, g) for g in groups)

        # the second pass's micro intervals where the first pass kept nothing and explained nothing
        # (a blink, speech, a gaze shift, a light change, a fast turn, an interval too short): it is
        # for what the first joined with what compensation left of the head's motion, or did not
        # see, not a second look at what it explained
        explained = [x for x in suppressed if not x.reason.startswith(HEAD_MOTION)]
        more = [g for g in more if g.type == "micro" and free(g) and not any(_overlap(g, x) for x in explained)]
        if dp.micro_pass_after_s > 0:  # not the start of a longer movement (in the first pass's flow)
            more = [g for g in more if returns_after(g.best, detrended, valid, fps, dp)]
        suppressed += [x for x in more_s if free(x) and not any(_overlap(x, y) for y in suppressed)]
        groups = sorted(groups + more, key=lambda g: g.onset)
        suppressed.sort(key=lambda x: x.onset)
    return groups, suppressed


def _overlap(a, b) -> bool:
    """Whether two intervals (groups or suppressions: ``onset``, ``offset``, inclusive) share a frame."""
    return a.onset <= b.offset and b.onset <= a.offset


def _learned(feat, fps, suppressed):
    """The learned spotter's intervals; of the hand path's suppressions, those it did not flag."""
    from analysis.spotting.learned import MODEL_FILE, available, spot_learned

    if not available():
        raise InputError(
            f"the learned spotter needs torch and {MODEL_FILE}; the default (hand-tuned) spotter needs neither"
        )
    groups = spot_learned(feat, fps)  # imports torch
    return groups, [x for x in suppressed if not any(_overlap(x, g) for g in groups)]


def _detrended(flow, valid, fps, dp):
    """The flow a pass searches: detrended over ``dp.detrend_s`` (unless 0)."""
    return detrend(flow, valid, fps, dp.detrend_s, dp.detrend_edge) if dp.detrend_s > 0 else flow


def _one_pass(detrended, valid, fps, dp, p, emg, ctx, face_px=None):
    """One pass of detection, EMG scoring and elimination over ``detrended`` (:func:`_detrended` with
    ``dp``: the common-motion test and detection work on the same flow)."""
    head_px = ctx[2]["path_px"] if ctx is not None else None
    common = None
    if ctx is not None and p.interference.common_ratio > 0:
        common = CommonMotion.of(detrended, valid, head_px, fps, dp.still_px or 0.04)
    cands = all_candidates(detrended, valid, fps, dp, face_px=face_px, head_px=head_px, detrended=True)
    del detrended
    cands = [c for c in cands if not _touches_end(c, valid)]
    groups = group_candidates([c for c in cands if c.offset - c.onset + 1 >= dp.min_len_s * fps], fps, dp)
    for g in groups:
        if emg is not None and emg.channels:
            factor, hits = emg.boost(g.regions, g.onset, g.offset, fps, p.emg)
            if hits:
                for m in g.members:
                    m.score *= factor
                finish_group(g, fps, dp)
                g.emg = hits
    groups = [g for g in groups if g.score >= 1.0]
    if ctx is None:
        suppressed = []
    else:
        closure, speech, head = ctx
        blinks = blink_intervals(cands, closure, fps, p.interference)
        groups, suppressed = eliminate(groups, blinks, speech, head, fps, dp, p.interference, common)
    for g in groups:
        report_ends(g, fps, dp)
    if dp.min_report_s > 0:
        short = [g for g in groups if g.offset - g.onset + 1 < dp.min_report_s * fps]
        if short:
            groups = [g for g in groups if g.offset - g.onset + 1 >= dp.min_report_s * fps]
            suppressed = sorted(
                suppressed
                + [
                    Suppressed(
                        g.onset, g.offset, f"too short ({(g.offset - g.onset + 1) / fps:.2f} s)", g.apex, g.score
                    )
                    for g in short
                ],
                key=lambda x: x.onset,
            )
    return groups, suppressed


def _touches_end(c, valid: np.ndarray) -> bool:
    """A candidate running into the end of the video or of a stretch with face cannot be seen to
    return to rest: it is not reported."""
    end = c.offset + 1
    return end >= len(valid) - 1 or not valid[min(end + 1, len(valid) - 1)]


def interval_dict(g: Group) -> dict:
    d = {
        "onset": int(g.onset),
        "apex": int(g.apex),
        "offset": int(g.offset),
        "type": g.type,
        "score": round(float(g.score), 3),
        "aus": g.aus,
        "regions": g.regions,
    }
    if g.emg:
        d["emg"] = [{"channel": c, "z": z} for c, z in g.emg]
    return d


def suppressed_dict(s: Suppressed) -> dict:
    return {"onset": int(s.onset), "offset": int(s.offset), "reason": s.reason}


def write_json(path: Path, obj: dict) -> Path:
    """Atomic JSON write (MexlabError naming the file when it cannot be written)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the spotting result ({exc.strerror})") from None
    return path
