"""Live spotting: :class:`StreamingSpotter` consumes frames as they arrive and flags expressions.

Per frame it runs the same stages as offline spotting (face model every ``stride``-th frame,
registered optical flow every frame); every ``check_s`` it runs the offline detector and interference
elimination on the last ``window_s`` seconds (:class:`WindowDecider`). A movement is *confirmed* by
a check once the window runs ``confirm_s`` past the end of its detection extent, and only if it does
not start in the window's first half detrending window (there the moving mean is one-sided, and the
movement was decided by earlier checks). The first such check shows it as a **provisional** flag
(~0.5 s after the movement's offset); once the checks have found it so for ``agree_s`` (a
macro-expression: ``agree_macro_s``) it is
**confirmed** (~1.2 s), else **withdrawn** — the same ``key``, the flag's ``state`` says which
(figures in docs/spotting.md). :func:`replay` makes the same decisions on features extracted offline
(the bench).
Each flag carries the interval (frame numbers as given to ``push(..., index=)`` — a recording passes
rgb.mkv's — else counted from the first frame pushed; 0-based, inclusive), the timestamps of its
frames, and a thumbnail of the apex (the aligned face crop).

    spotter = StreamingSpotter(fps=30)
    for frame, t in camera:                      # RGB uint8 H×W×3, timestamp in seconds
        for flag in spotter.push(frame, t):     # flag.state: provisional, confirmed or withdrawn
            show(flag.key, flag.state, flag.thumbnail, flag.type, flag.onset_t, flag.offset_t)
    spotter.close()

Not thread-safe: call ``push`` from one thread (the GUI's processing thread).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import cv2
import numpy as np

from analysis.spotting.detect import Group, iou
from analysis.spotting.features import Features, _interpolate_keyframes
from analysis.spotting.frames import FrameProcessor, RecordArrays
from analysis.spotting.regions import MOUTH_REGIONS

if TYPE_CHECKING:
    from analysis.spotting.pipeline import SpotParams


@dataclass
class LiveFlag:
    onset: int
    apex: int
    offset: int
    type: str  # micro | macro
    score: float
    aus: list[str]
    regions: list[str]
    onset_t: float  # timestamps (as pushed) of onset, apex and offset frames
    apex_t: float
    offset_t: float
    flagged_at: float  # timestamp of the frame whose push raised the flag
    latency_s: float  # flagged_at - offset_t (stream time)
    thumbnail: np.ndarray | None = None  # RGB, thumb×thumb px, aligned face at the apex
    processing_s: float = 0.0  # wall time of the push that raised it
    # "provisional" (shown at once, until the checks agree), "confirmed" or "withdrawn" (a provisional
    # flag taken back); ``key`` names the movement across its states
    state: str = "confirmed"
    key: int = -1

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "onset",
                "apex",
                "offset",
                "type",
                "score",
                "aus",
                "regions",
                "onset_t",
                "apex_t",
                "offset_t",
                "flagged_at",
                "latency_s",
                "state",
                "key",
            )
        }


@dataclass
class LiveStats:
    frames: int = 0
    frames_with_face: int = 0
    push_s: list = field(default_factory=list)  # wall time per push (last 1000)


#: the window must run this far (s) past a movement's detection extent before it is flagged (chosen on
#: the varied rig's tuning faces, docs/spotting.md; 0.1 before the third round, 0.3 before the tenth:
#: with checks every 0.2 s, 0.2 s shows a flag as early as 0.3 s did with checks every 0.1 s)
CONFIRM_S = 0.2
#: … when all its regions are mouth regions (what the speech rule can remove): 0.3 s, kept in the tenth round
MOUTH_CONFIRM_S = 0.3
#: … and once the checks have found it confirmed for this long (s): a movement one check confirms and
#: the next ones, with more frames after it, see otherwise (the speech rule finds the next syllables,
#: a blink's or the head's context grows) is not flagged. Chosen on replays of the varied rig's tuning
#: faces (seeds 0-7: 0 s 0.790, 0.2 s 0.823, 0.4 s 0.845, 0.7 s 0.854, 1.1 s 0.837; docs/spotting.md)
AGREE_S = 0.7
#: … for a macro-expression (longer than 0.5 s): its extent changes more from one check to the next,
#: so fewer checks find it as they found it before. Before the twelfth round AGREE_S; chosen on
#: replays of the tuning faces (seeds 0-7: 0.864 → 0.874, `beyond-tuning` 0.786 → 0.793; seeds 8-11
#: 0.847 → 0.844; docs/spotting.md)
AGREE_MACRO_S = 0.4
# how often the detector runs on the window: at 0.1 s it took half of the live spotter's time; every
# 0.2 s with CONFIRM_S 0.2 (tenth round) measured the same on the tuning faces, replayed (0.848 vs
# 0.847 on seeds 0-7, 0.835 vs 0.820 on 8-11), a flag shown as early (median 0.47 s), with 15 % less
# CPU per frame (docs/spotting.md)
CHECK_S = 0.2
#: the window each check searches (s): 8 s before the fifteenth round. With 16 s its noise floors are
#: nearer offline's over a whole video, and more of the expressions offline finds are found; chosen on
#: replays of the tuning faces with the fifteenth round's common-motion padding (seeds 0-11: 0.872 →
#: 0.880; `beyond-tuning` 0.805 → 0.819; a keyframe every 30 frames, seeds 0-3, 0.857 → 0.879; seeds
#: 8-11 alone 0.853 → 0.849), ~5 % more CPU (docs/spotting.md)
WINDOW_S = 16.0


def _config(
    fps: float,
    *,
    stride: int = 3,
    crop: int = 128,
    window_s: float = WINDOW_S,
    check_s: float = CHECK_S,
    confirm_s: float = CONFIRM_S,
    mouth_confirm_s: float = MOUTH_CONFIRM_S,
    agree_s: float = AGREE_S,
    agree_macro_s: float | None = AGREE_MACRO_S,
    min_history_s: float = 2.0,
    interference: bool = True,
    thumb: int = 96,
    params: SpotParams | None = None,
    max_side: int = 640,
) -> dict:
    from analysis.spotting.pipeline import SpotParams

    if not fps or fps <= 0:
        raise ValueError("fps must be positive")
    check_every = max(1, int(round(check_s * fps)))
    return {
        "stride": max(1, int(stride)),
        "crop": int(crop),
        "params": params or SpotParams(stride=stride, crop=crop),
        "window": max(int(round(window_s * fps)), 16),
        "check_every": check_every,
        "confirm": max(1, int(round(confirm_s * fps))),
        "mouth_confirm": max(1, int(round(mouth_confirm_s * fps))),
        "agree": _checks(agree_s, fps, check_every),
        "agree_macro": _checks(agree_s if agree_macro_s is None else agree_macro_s, fps, check_every),
        "min_history": int(round(min_history_s * fps)),
        "interference": interference,
        "thumb": int(thumb),
        "max_side": int(max_side),
    }


def _checks(seconds: float, fps: float, check_every: int) -> int:
    """How many checks (every ``check_every`` frames) find a movement over ``seconds``: the first one
    and those after it."""
    return 1 + max(0, int(round(seconds * fps / check_every)))


class StreamingSpotter:
    def __init__(self, fps: float, **kw: Any):
        """Keyword arguments (see :func:`_config`): ``stride`` (3), ``crop`` (128), ``window_s`` (16),
        ``check_s`` (CHECK_S), ``confirm_s`` (CONFIRM_S), ``mouth_confirm_s`` (MOUTH_CONFIRM_S),
        ``agree_s`` (AGREE_S), ``agree_macro_s`` (AGREE_MACRO_S; None: ``agree_s``), ``min_history_s`` (2), ``interference`` (True), ``thumb`` (96), ``params`` (SpotParams),
        ``max_side`` (640)."""
        if not fps or fps <= 0:
            raise ValueError("fps must be positive")
        cfg = _config(fps, **kw)
        self.fps = float(fps)
        self.params = cfg["params"]
        self.proc = FrameProcessor(stride=cfg["stride"], crop=cfg["crop"], max_side=cfg["max_side"])
        self.window = cfg["window"]
        self.check_every = cfg["check_every"]
        self.min_history = cfg["min_history"]
        self.interference = cfg["interference"]
        self.thumb = cfg["thumb"]
        self.decider = WindowDecider.from_config(self.fps, cfg)
        self._recs: deque = deque(maxlen=self.window)
        self._thumbs: dict[int, np.ndarray | None] = {}
        self._n = 0
        self._file_index: dict[int, int] = {}  # push number -> frame number given to push()
        self._gop_starts: set[int] = set()  # push numbers of frames that start a group of pictures
        self.stats = LiveStats()
        self.flags: list[LiveFlag] = []  # the confirmed flags
        self._shown: dict[int, LiveFlag] = {}  # provisional flags by key
        self._cfg = cfg
        self.log = None  # a live_features.FeatureLog once keep_features() is called

    def keep_features(self, depth_mapper: Any = None) -> None:
        """Keep every frame's features for the session's feature cache
        (:mod:`analysis.spotting.live_features`); with ``depth_mapper`` (a DepthMapper) each push must
        bring its depth frame, and depth enters the features as offline. Call before the first push."""
        from analysis.spotting.features import VERSION
        from analysis.spotting.live_features import FeatureLog

        if self._n:
            raise RuntimeError("keep_features() must be called before the first frame")
        self.proc.depth_mapper = depth_mapper
        cfg = self._cfg
        self.log = FeatureLog(
            self.fps,
            version=VERSION,
            stride=cfg["stride"],
            crop=cfg["crop"],
            max_side=cfg["max_side"],
            depth_mapper=depth_mapper,
        )

    def stop_keeping(self) -> None:
        """Drop the kept features (they can no longer be complete) and depth: the spotter then costs
        what it costs without them."""
        self.log = None
        self.proc.depth_mapper = None

    def save_features(self, path: str, error: str | None = None) -> dict:
        """Write the kept features (:meth:`FeatureLog.save`; ``error``: why they must not be used)."""
        if self.log is None:
            return {"frames": 0, "complete": False, "why_not": "features were not kept", "file": None}
        return self.log.save(path, error=error)

    def close(self) -> None:
        self.proc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ per frame
    def push(
        self,
        frame: np.ndarray,
        timestamp: float,
        index: int | None = None,
        depth: np.ndarray | None = None,
        gop_start: bool = False,
    ) -> list[LiveFlag]:
        """Feed one RGB frame (H×W×3 uint8) with its timestamp (s); returns new flags. ``index``: the
        frame's number in the recorded video (flags then name file frames, even when frames were
        skipped before this one; the face model is given the frame's time in the file,
        ``round(index·1000/fps)`` ms, as offline); by default frames are numbered as pushed.
        ``depth``: the raw depth frame of the same number (uint16), used when a depth mapper was given
        to :meth:`keep_features`. ``gop_start``: the frame was decoded from a lossy inter-coded video
        and starts a group of pictures again there (:func:`acquisition.session_read.video.gop_starts`;
        never for a camera's frames): its flow is taken from its neighbours', as offline
        (:mod:`analysis.spotting.codec`)."""
        t0 = time.perf_counter()
        i = self._n
        self._n += 1
        if gop_start:
            self._gop_starts.add(i)
        self._file_index[i] = i if index is None else int(index)
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        rgb = frame if self.proc.wants_rgb(i) else None
        if self.proc.flow.m is not None:
            self._thumbs[i] = self._thumbnail(frame)
        if self.proc.depth_mapper is None:
            depth = None
        if self.log is not None:
            self.log.frame(index, gray, depth is not None)
        face_t = None if index is None else round(int(index) * 1000.0 / self.fps) / 1000.0
        for rec in self.proc.process(i, float(timestamp), gray, rgb, depth, face_t=face_t):
            self._add(rec)
        out: list[LiveFlag] = []
        if len(self._recs) >= self.min_history and i % self.check_every == 0:
            out = self._check(float(timestamp))
        dt = time.perf_counter() - t0
        for f in out:
            f.processing_s = dt
        self.stats.push_s.append(dt)
        if len(self.stats.push_s) > 1000:
            del self.stats.push_s[:-1000]
        self.flags.extend(f for f in out if f.state == "confirmed")
        return out

    def flush(self) -> list[LiveFlag]:
        """At the end of a stream: flag what the last frames can still confirm."""
        for rec in self.proc.flush():
            self._add(rec)
        if not self._recs:
            return []
        out = self._check(self._recs[-1].t, final=True)
        self.flags.extend(f for f in out if f.state == "confirmed")
        return out

    last_box: tuple | None = None  # the face box of the latest frame with a face (frame pixels)
    # the face model's latest landmarks: (file frame number, (478, 2) float32 frame pixels); live
    # recognition aligns a flag's onset frame with them instead of running the face model again
    last_landmarks: tuple[int, np.ndarray] | None = None

    def _add(self, rec) -> None:
        if self.log is not None:
            self.log.add(rec)
        self._recs.append(rec)
        if rec.present and rec.box is not None and np.all(np.isfinite(rec.box)):
            self.last_box = tuple(float(v) for v in rec.box)
        if rec.landmarks is not None:
            idx = self._file_index.get(rec.index, rec.index)
            self.last_landmarks = (int(idx), np.asarray(rec.landmarks[:, :2], np.float32))
        self.stats.frames += 1
        self.stats.frames_with_face += int(rec.present)
        first = self._recs[0].index
        for k in [k for k in self._thumbs if k < first]:
            del self._thumbs[k]
        for k in [k for k in self._file_index if k < first]:
            del self._file_index[k]
        self._gop_starts = {k for k in self._gop_starts if k >= first}

    def _thumbnail(self, frame: np.ndarray) -> np.ndarray | None:
        m = self.proc.flow.m
        if m is None:
            return None
        s = self.thumb / self.proc.flow.size
        full = self.proc.flow._full_m * s
        return cv2.warpAffine(
            frame, full, (self.thumb, self.thumb), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )

    # ------------------------------------------------------------------ detection
    def _check(self, now_t: float, final: bool = False) -> list[LiveFlag]:
        recs = list(self._recs)
        first = recs[0].index
        store = RecordArrays(len(recs))
        for r in recs:
            store.add(r)
        fi = self._file_index

        def flag(d: Decision) -> LiveFlag:
            g = d.group
            thumb = self._thumbs.get(d.apex)
            return LiveFlag(
                fi.get(d.onset, d.onset),
                fi.get(d.apex, d.apex),
                fi.get(d.offset, d.offset),
                g.type,
                round(float(g.score), 3),
                g.aus,
                g.regions,
                recs[g.onset].t,
                recs[g.apex].t,
                recs[g.offset].t,
                now_t,
                now_t - recs[g.offset].t,
                None if thumb is None else thumb.copy(),
                state=d.state,
                key=d.key,
            )

        arrays = store.arrays()
        if self._gop_starts:
            mask = np.zeros(len(recs), bool)
            mask[[k - first for k in self._gop_starts if k - first < len(recs)]] = True
            arrays["gop_start"] = mask
        return _as_flags(self.decider.check(arrays, first, final), self._shown, now_t, flag)


class WindowDecider:
    """What the live spotter flags, given the features of its last ``window`` frames: the offline
    detector (:func:`analysis.spotting.pipeline.spot_features`, same parameters) on the window, and a
    group is **confirmed** only once the window runs ``confirm`` frames past the end of its detection
    extent (``mouth_confirm`` when all its regions are mouth regions: the speech rule, which needs the
    following syllables, can remove only those). Movements that start in the window's first half
    detrending window are left out: the moving mean is one-sided there, and earlier checks, which had
    them mid-window, decided them. The first check that finds a movement confirmed shows it
    provisional; it is flagged (confirmed) once ``agree`` checks have (``agree_macro`` when this check
    types it macro; compared on the detection extents; the final check flags it at once), withdrawn when its onset reaches the window's start
    first (no later check can count it) or the stream ends. A movement flagged or withdrawn is not
    decided again.

    Shared by :class:`StreamingSpotter` and :func:`replay` (the same decisions on extracted features).
    """

    def __init__(
        self,
        fps: float,
        params: SpotParams,
        *,
        confirm: int,
        mouth_confirm: int,
        agree: int = 1,
        agree_macro: int | None = None,
        interference: bool = True,
        min_valid: int = 0,
    ):
        self.fps = float(fps)
        self.params = params
        self.confirm = int(confirm)
        self.mouth_confirm = int(mouth_confirm)
        self.agree = max(1, int(agree))
        self.agree_macro = self.agree if agree_macro is None else max(1, int(agree_macro))
        self.interference = interference
        self.min_valid = int(min_valid)  # frames with flow a window needs to be checked
        self._emitted: deque = deque(maxlen=256)  # detection extents (onset, apex, offset) flagged
        self._pending: list[_Pending] = []  # confirmed by fewer than ``agree`` checks
        self._dropped: deque = deque(maxlen=256)  # detection extents (onset, offset) withdrawn
        self._next_key = 0

    @classmethod
    def from_config(cls, fps: float, cfg: dict) -> WindowDecider:
        """The decider of a live spotter configured by :func:`_config`."""
        return cls(
            fps,
            cfg["params"],
            confirm=cfg["confirm"],
            mouth_confirm=cfg["mouth_confirm"],
            agree=cfg["agree"],
            agree_macro=cfg["agree_macro"],
            interference=cfg["interference"],
            min_valid=cfg["min_history"] // 2,
        )

    def check(self, arrays: dict, first: int, final: bool = False) -> list[Decision]:
        """``arrays``: the window's per-frame features (RecordArrays layout, pose/blendshapes at the
        face model's frames only), its first frame being stream frame ``first``. Returns what this check
        decided (:class:`Decision`: movements newly seen confirmed, provisional while ``agree`` > 1;
        confirmed; withdrawn). ``final``: the stream has ended, confirm whatever has come back to rest
        (as offline) and withdraw the rest. A window with fewer than ``min_valid`` frames of flow (too
        little face) decides nothing, but at the end still withdraws what was shown."""
        from analysis.spotting.pipeline import spot_features

        if arrays["flow_valid"].sum() < self.min_valid:
            return self.withdraw_all() if final else []

        arrays = {k: (v.copy() if k in ("pose", "blendshapes") else v) for k, v in arrays.items()}
        _interpolate_keyframes(arrays)  # as offline: pose and blendshapes between face-model frames
        n = len(arrays["t"])
        feat = Features(
            video="<live>",
            fps=self.fps,
            n_frames=n,
            width=0,
            height=0,
            crop=self.params.crop,
            stride=self.params.stride,
            arrays=arrays,
        )
        groups, _ = spot_features(feat, self.fps, interference=self.interference, params=self.params)
        # the first half detrending window of the window: the moving mean there is one-sided, and a
        # movement that starts there was in the middle of earlier windows, where it was decided
        # (at the stream's start nothing came before: as offline)
        skip = 1 if first == 0 else max(1, int(round(0.5 * self.params.detect.detrend_s * self.fps)))
        out: list[Decision] = []
        for g in groups:
            # the detection extents (the reported ends are refined, and can be earlier)
            d_on = min([g.onset] + [m.onset for m in g.members])
            settled = max([g.offset] + [m.offset for m in g.members])
            mouth = all(m.region in MOUTH_REGIONS for m in g.members)  # what the speech rule can remove
            lag = self.mouth_confirm if mouth else self.confirm
            if not final and settled > n - 1 - lag:
                continue  # not yet confirmed
            if d_on <= skip:
                continue  # seen through the window start's one-sided moving mean: decided before
            ap = g.apex + first
            d_on, d_off = d_on + first, settled + first
            if any(_same(d_on, ap, d_off, a, c) for a, _, c in self._emitted):
                continue
            p = next((p for p in self._pending if _same(d_on, ap, d_off, p.d_on, p.d_off)), None)
            if p is None:
                if any(_same(d_on, ap, d_off, a, c) for a, c in self._dropped):
                    continue
                p = _Pending(self._next_key, d_on, d_off, 0)
                self._next_key += 1
                self._pending.append(p)
                if self.agree > 1 and not final:
                    out.append(Decision("provisional", p.key, g.onset + first, ap, g.offset + first, g))
            p.d_on, p.d_off, p.n = d_on, d_off, p.n + 1
            if p.n >= (self.agree_macro if g.type == "macro" else self.agree) or final:
                self._pending.remove(p)
                self._emitted.append((d_on, ap, d_off))
                out.append(Decision("confirmed", p.key, g.onset + first, ap, g.offset + first, g))
        # withdrawn when no later check can count it (its onset has reached the window's start,
        # where movements are not decided) or the stream has ended without confirming it
        out += self._withdraw([p for p in self._pending if final or p.d_on <= first + skip])
        return out

    def withdraw_all(self) -> list[Decision]:
        """At the end of a stream that cannot be checked (too little face in the last window):
        every provisional movement withdrawn."""
        return self._withdraw(list(self._pending))

    def _withdraw(self, pending: list[_Pending]) -> list[Decision]:
        for p in pending:
            self._pending.remove(p)
            self._dropped.append((p.d_on, p.d_off))
        return [Decision("withdrawn", p.key, p.d_on, p.d_on, p.d_off, None) for p in pending]


def _as_flags(
    decisions: list[Decision], shown: dict[int, LiveFlag], now_t: float, flag: Callable[[Decision], LiveFlag]
) -> list[LiveFlag]:
    """The flags of a check's decisions (:class:`StreamingSpotter` and :func:`replay`): ``flag(d)``
    makes a provisional or confirmed one; a withdrawn one is the flag shown (kept in ``shown`` by
    key) taken back at ``now_t``, without its thumbnail."""
    out = []
    for d in decisions:
        if d.state == "withdrawn":
            f = shown.pop(d.key, None)
            if f is not None:
                out.append(replace(f, state="withdrawn", flagged_at=now_t, thumbnail=None))
            continue
        f = flag(d)
        if d.state == "provisional":
            shown[d.key] = f
        else:
            shown.pop(d.key, None)
        out.append(f)
    return out


def _same(d_on: int, ap: int, d_off: int, a: int, c: int) -> bool:
    """Whether a movement (detection extent ``d_on``-``d_off``, apex ``ap``) is the one of extent
    ``a``-``c`` (seen by another check): overlapping by IoU > 0.3, or its apex within."""
    return iou(d_on, d_off, a, c) > 0.3 or a <= ap <= c


@dataclass
class _Pending:
    """A movement confirmed by ``n`` checks, not yet flagged (``key``: its flag's)."""

    key: int
    d_on: int
    d_off: int
    n: int


class Decision(NamedTuple):
    """What a check decided about a movement: ``state`` "provisional" (first confirmed; a flag shown
    until the checks agree), "confirmed" (flagged) or "withdrawn" (the checks did not agree: the
    provisional flag is taken back); ``key`` names the movement across checks; onset, apex, offset
    in stream frames; ``group`` in window frames (None when withdrawn)."""

    state: str
    key: int
    onset: int
    apex: int
    offset: int
    group: Group | None


def replay(feat: Features, fps: float | None = None, **kw: Any) -> list[LiveFlag]:
    """The flags :class:`StreamingSpotter` (same keyword arguments) would raise on the frames of
    ``feat`` (features extracted offline: the same per-frame stages), without video or face model:
    records arrive ``stride`` frames late as live, a check every ``check_s`` on the last
    ``window_s``, and a final check at the end (``flush``). No thumbnails; ``processing_s`` 0."""
    fps = float(fps or feat.fps)
    cfg = _config(fps, **kw)
    a = feat.arrays
    n = len(a["t"])
    raw = dict(a)
    kf = np.zeros(n, bool)
    kf[np.asarray(a["kf_index"], int)] = True
    for k in ("pose", "blendshapes"):  # offline interpolated them over the whole video: undo
        x = a[k].copy()
        x[~kf] = np.nan
        raw[k] = x
    dec = WindowDecider.from_config(fps, cfg)
    lag = cfg["stride"]
    t = a["t"]
    flags: list[LiveFlag] = []
    shown: dict[int, LiveFlag] = {}

    def run(last: int, now_t: float, final: bool = False) -> None:
        lo = max(0, last - cfg["window"] + 1)
        win = {k: v[lo : last + 1] for k, v in raw.items() if k not in ("kf_index", "kf_landmarks")}

        def flag(d: Decision) -> LiveFlag:
            g = d.group
            return LiveFlag(
                d.onset,
                d.apex,
                d.offset,
                g.type,
                round(float(g.score), 3),
                g.aus,
                g.regions,
                float(t[d.onset]),
                float(t[d.apex]),
                float(t[d.offset]),
                now_t,
                now_t - float(t[d.offset]),
                state=d.state,
                key=d.key,
            )

        flags.extend(_as_flags(dec.check(win, lo, final), shown, now_t, flag))

    for i in range(n):
        last = i - lag
        if last + 1 >= max(cfg["min_history"], 1) and i % cfg["check_every"] == 0:
            run(last, float(t[i]))
    if n:
        run(n - 1, float(t[n - 1]), final=True)
    return flags
