"""The varied rig: labelled videos of many faces, sizes, resolutions, codecs and interference.

API::

    from acquisition.sim.identities import make_identity, identities
    from acquisition.sim.varied import make_varied_schedule, render_video

    ident = make_identity("grace_hopper/2")                 # or make_identity(7), identities(...)
    sched = make_varied_schedule(30.0, fps=30, seed=1)       # events + ground truth
    out = render_video(ident, sched, (1280, 720), 30, "/tmp/v/gh2.mp4", codec="h264",
                       face_width=300, noise=1.5, seed=1)
    out.video, out.ground_truth, out.meta                   # the files written

``render_video`` writes the video (``codec`` ``h264``: libx264 yuv420p, ``crf`` 23 by default,
in .mp4/.mkv; ``ffv1``: lossless bgr0 in .mkv), ``<stem>.gt.csv`` (one row per event: ``onset,
apex, offset, type, aus, kind, amplitude, detail`` — frames 0-based inclusive in the file's frames;
``type`` micro, macro, blink, head, speech; ``kind`` expression or interference; ``detail`` for
head events ``drift`` or ``turn``; ``amplitude`` px at apex in the video's pixels for expressions)
and ``<stem>.json`` (identity, split, size, fps, face width, codec, noise, seed). Files are written
to temporary names and renamed.

:func:`make_varied_schedule` draws (deterministically from ``seed``): micro-expressions of 8-15
frames at 30 fps (scaled with fps), ``amp`` px at apex (default 1-4 px, uniform), one or two AUs
from :data:`ME_AU_SETS` (AU1, AU1+2, AU4, AU4+7, AU9, AU12, AU12+7, AU14, AU15 and more);
macro-expressions of 0.8-2 s, 3-8 px; and interference: blinks (every 2.5-6 s, a share of them
over expressions), slow head drift (2-6°, 3-8 s), quick head turns (12-30°, 0.4-1 s, mostly yaw)
and speech (3-6 Hz syllables, 2-5 s). Turns and speech are kept 0.3 s off expressions (they are
scored as false flags per minute), drift and blinks are not. ``interference`` chooses the kinds.
Two more kinds are drawn only when asked for (they are not in the default sets, which render as before):
``light``, the camera's auto-exposure or the room's light changing the whole image's brightness by
6-20 % over 0.1-0.6 s to a new level that stays (the levels kept within 0.75-1.25 of the first), kept
0.3 s off expressions like turns and speech; and ``gaze``, the eyes looking elsewhere for 0.4-2.5 s
(a 0.1-s saccade there and back, the irises moving 8-25 % of the eye's width, mostly sideways; six a
minute), kept off expressions and turns likewise.

Every amplitude is in pixels of the rendered face: a renderer of another face width scales the
schedule's speech and blink to its own face (blink closure is a share of the eye opening); a gaze
shift's is a share of the eye's width (%).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import MexlabError
from acquisition.sim.schedule import FacialEvent, Schedule

if TYPE_CHECKING:
    from acquisition.sim.identities import Identity

#: AU sets of the varied rig's expressions, with weights.
ME_AU_SETS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("AU1",), 1.5),
    (("AU1", "AU2"), 1.5),
    (("AU4",), 2.0),
    (("AU4", "AU7"), 1.5),
    (("AU9",), 1.5),
    (("AU12",), 2.0),
    (("AU7", "AU12"), 1.5),
    (("AU14",), 1.5),
    (("AU15",), 1.5),
    (("AU2",), 0.7),
    (("AU6", "AU12"), 0.7),
    (("AU10",), 0.7),
    (("AU17",), 0.7),
    (("AU24",), 0.5),
    (("AU7",), 0.5),
    (("AU15", "AU17"), 0.5),
)
INTERFERENCE = ("blink", "drift", "turn", "speech")
#: Kinds drawn only when named in ``interference``.
EXTRA_INTERFERENCE = ("light", "gaze")
RATES = {
    "micro": 6.0,
    "macro": 1.5,
    "blink": 15.0,
    "drift": 2.0,
    "turn": 2.5,
    "speech": 1.5,
    "light": 2.0,
    "gaze": 6.0,
}
#: Bumped whenever the same arguments render different pictures (caches compare it).
RIG_VERSION = 2
NOMINAL_FACE_W = 156.0  # the face width (px) the schedule's speech amplitudes refer to
BLINK_NOMINAL = 10.0  # a blink of amplitude 10 closes the eye fully


def make_varied_schedule(
    duration_s: float,
    fps: float = 30.0,
    seed: int = 0,
    *,
    amp: tuple[float, float] = (1.0, 4.0),
    interference: Collection[str] = INTERFERENCE,
    rates: dict | None = None,
) -> Schedule:
    if duration_s <= 0 or fps <= 0:
        raise MexlabError("duration and fps must be positive")
    known = (*INTERFERENCE, *EXTRA_INTERFERENCE)
    unknown = set(interference) - set(known)
    if unknown:
        raise MexlabError(f"unknown interference kind(s) {sorted(unknown)} (known: {', '.join(known)})")
    r = dict(RATES, **(rates or {}))
    rng = np.random.default_rng([int(seed), 31337])
    n = int(round(duration_s * fps))
    sec = lambda s: int(round(s * fps))  # noqa: E731
    end = n - 1 - sec(0.8)
    sets = [s for s, _ in ME_AU_SETS]
    w = np.array([x for _, x in ME_AU_SETS])
    w /= w.sum()

    def ev(kind, onset, length, aus, a, apex_frac=0.4):
        length = max(3, length)
        apex = onset + min(length - 2, max(1, int(round((length - 1) * apex_frac))))
        return FacialEvent(
            kind,
            int(onset),
            int(apex),
            int(onset + length - 1),
            tuple(aus),
            float(round(a, 3)),
            kind in ("micro", "macro"),
        )

    events: list[FacialEvent] = []
    # expressions: a renewal process, never overlapping, 1 s apart at least
    rate = r["micro"] + r["macro"]
    t = sec(1.5 + rng.uniform(0, 1.5))
    while rate > 0:
        kind = "micro" if rng.random() < r["micro"] / rate else "macro"
        aus = sets[rng.choice(len(sets), p=w)]
        if kind == "micro":
            e = ev(
                kind, t, int(round(rng.uniform(7.5, 15.5) * fps / 30.0)), aus, rng.uniform(*amp), rng.uniform(0.3, 0.5)
            )
        else:
            e = ev(kind, t, sec(rng.uniform(0.8, 2.0)), aus, rng.uniform(3.0, 8.0), rng.uniform(0.3, 0.5))
        if e.offset > end:
            break
        events.append(e)
        t = e.offset + 1 + sec(1.0 + rng.exponential(max(0.3, 60.0 / rate - 1.5)))
    expr = np.array([(e.onset, e.offset) for e in events]).reshape(-1, 2)
    guard = sec(0.3)

    def free(on, off):
        return not ((expr[:, 0] <= off + guard) & (expr[:, 1] >= on - guard)).any()

    params: dict = {}
    taken: list[tuple[int, int]] = []  # turns and speech do not overlap each other

    def place(kind, count, length, a, tries=60):
        out = []
        for _ in range(count):
            for _ in range(tries):
                L = length()
                on = int(rng.integers(sec(1.0), max(sec(1.0) + 1, end - L)))
                if free(on, on + L - 1) and not any(on <= b + guard and on + L - 1 >= c - guard for c, b in taken):
                    taken.append((on, on + L - 1))
                    out.append(ev(kind if kind in ("speech", "light", "gaze") else "head", on, L, (), a(), 0.5))
                    break
        return out

    minutes = n / fps / 60.0
    count = lambda k: int(rng.poisson(r[k] * minutes)) if k in interference else 0  # noqa: E731
    for e in place("turn", count("turn"), lambda: sec(rng.uniform(0.4, 1.0)), lambda: rng.uniform(12.0, 30.0)):
        wv = rng.normal(size=3) * np.array([1.0, 0.35, 0.2])
        wv /= np.linalg.norm(wv)
        params[e] = {
            "yaw": float(wv[0]),
            "pitch": float(wv[1]),
            "roll": float(wv[2]),
            "tx": float(rng.uniform(-0.5, 0.5)),
            "ty": float(rng.uniform(-0.3, 0.3)),
            "detail": "turn",
        }
        events.append(e)
    for e in place("speech", count("speech"), lambda: sec(rng.uniform(2.0, 5.0)), lambda: rng.uniform(3.0, 7.0)):
        params[e] = {"rate_hz": float(rng.uniform(3.0, 6.0)), "phase": float(rng.uniform(0, 2 * np.pi))}
        events.append(e)
    if "drift" in interference:
        for _ in range(count("drift")):
            L = sec(rng.uniform(3.0, 8.0))
            on = int(rng.integers(0, max(1, end - L)))
            e = ev("head", on, L, (), rng.uniform(2.0, 6.0), 0.5)
            wv = rng.normal(size=3) * np.array([1.0, 0.8, 0.5])
            wv /= np.linalg.norm(wv)
            params[e] = {
                "yaw": float(wv[0]),
                "pitch": float(wv[1]),
                "roll": float(wv[2]),
                "tx": float(rng.uniform(-3, 3)),
                "ty": float(rng.uniform(-2, 2)),
                "detail": "drift",
            }
            events.append(e)
    if "blink" in interference and r["blink"] > 0:
        t = sec(rng.uniform(0.5, 3.0))
        mean = 60.0 / r["blink"]
        while True:
            e = ev("blink", t, sec(rng.uniform(0.1, 0.3)), ("AU45",), BLINK_NOMINAL * rng.uniform(0.8, 1.15))
            if e.offset > end:
                break
            events.append(e)
            t = e.offset + 1 + sec(rng.uniform(0.6 * mean, 1.4 * mean))
    level = 1.0
    lights = place("light", count("light"), lambda: sec(rng.uniform(0.1, 0.6)), lambda: rng.uniform(6.0, 20.0))
    for e in sorted(lights, key=lambda e: e.onset):
        up = level * (1 + e.amplitude / 100.0)
        sign = 1.0 if (up <= 1.25 and (rng.random() < 0.5 or level * (1 - e.amplitude / 100.0) < 0.75)) else -1.0
        level = level * (1 + sign * e.amplitude / 100.0)
        params[e] = {"level": float(level)}
        events.append(e)
    for e in place("gaze", count("gaze"), lambda: sec(rng.uniform(0.4, 2.5)), lambda: rng.uniform(8.0, 25.0)):
        a = float(rng.uniform(-0.35, 0.35) + (0.0 if rng.random() < 0.5 else np.pi))
        params[e] = {"dx": float(np.cos(a)), "dy": float(np.sin(a))}
        events.append(e)
    s = Schedule(fps=float(fps), n_frames=n, seed=int(seed), events=events)
    for e, p in params.items():
        p.setdefault("emg_lead_s", 0.04)
        s.set_params(e, p)
    return s


@dataclass
class Rendered:
    video: Path
    ground_truth: Path
    meta: dict


def light_levels(schedule: Schedule) -> np.ndarray | None:
    """The image gain of every frame from the schedule's ``light`` events (``None``: none): each
    event moves the level smoothly (sin²) from the one before to its own ``level`` over its frames."""
    lights = sorted((e for e in schedule.events if e.kind == "light"), key=lambda e: e.onset)
    if not lights:
        return None
    g = np.ones(schedule.n_frames)
    f = np.arange(schedule.n_frames, dtype=np.float64)
    before = 1.0
    for e in lights:
        after = float(schedule.params(e)["level"])
        u = np.clip((f - (e.onset - 1.0)) / (e.offset - e.onset + 2.0), 0.0, 1.0)
        g = np.where(f >= e.onset, before + (after - before) * np.sin(0.5 * np.pi * u) ** 2, g)
        before = after
    return g


def ground_truth_rows(schedule: Schedule) -> list[dict]:
    rows = []
    for e in schedule.events:
        detail = ""
        if e.kind == "head":
            detail = schedule.params(e).get("detail", "head")
        rows.append(
            {
                "onset": e.onset,
                "apex": e.apex,
                "offset": e.offset,
                "type": e.kind,
                "aus": "+".join(e.aus),
                "kind": "expression" if e.emotional else "interference",
                "amplitude": e.amplitude,
                "detail": detail,
            }
        )
    return rows


def read_ground_truth(path: str | Path) -> list[dict]:
    """Rows of a ``.gt.csv`` with int frames and float amplitude."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("onset", "apex", "offset"):
            r[k] = int(r[k])
        r["amplitude"] = float(r["amplitude"])
    return rows


def _tmp(path: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(name, 0o666 & ~mask)
    return Path(name)


def render_video(
    identity: Identity,
    schedule: Schedule,
    size: tuple[int, int],
    fps: float,
    out_path: str | Path,
    *,
    codec: str = "h264",
    face_width: float | None = None,
    noise: float = 1.0,
    crf: int = 23,
    seed: int = 0,
    centre: tuple[float, float] | None = None,
    gop: int | None = None,
) -> Rendered:
    """Render ``schedule`` on ``identity``'s face into ``out_path`` (see the module docstring);
    ``gop``: H.264's keyframe interval in frames (None: x264's own, 250)."""
    import av

    width, height = int(size[0]), int(size[1])
    if width % 2 or height % 2 or width < 64 or height < 64:
        raise MexlabError(f"video size {width}x{height}: must be even and at least 64x64")
    if codec not in ("h264", "ffv1"):
        raise MexlabError(f"codec '{codec}': use h264 or ffv1")
    out_path = Path(out_path)
    if codec == "ffv1" and out_path.suffix.lower() != ".mkv":
        raise MexlabError(f"{out_path}: FFV1 goes into a .mkv file")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    face = identity.renderer(width, height, face_width=face_width, centre=centre)
    fw = face.neutral_face_box[2] - face.neutral_face_box[0]
    blink_k = face.eye_opening_px / BLINK_NOMINAL
    speech_k = fw / NOMINAL_FACE_W
    rng = np.random.default_rng([int(seed), 977])
    bank = (
        [np.clip(rng.normal(0, noise, (height, width, 3)), -40, 40).astype(np.int16) for _ in range(8)]
        if noise > 0
        else None
    )
    gain = light_levels(schedule)
    tmp = _tmp(out_path)
    try:
        with av.open(str(tmp), "w", format="matroska" if out_path.suffix.lower() == ".mkv" else "mp4") as c:
            if codec == "h264":
                st = c.add_stream(
                    "libx264",
                    rate=int(round(fps)) if float(fps).is_integer() else fps,
                    options={"crf": str(crf), "preset": "veryfast", **({"g": str(int(gop))} if gop else {})},
                )
                st.pix_fmt = "yuv420p"
            else:
                st = c.add_stream("ffv1", rate=int(round(fps)))
                st.pix_fmt = "bgr0"
            st.width, st.height = width, height
            for k in range(schedule.n_frames):
                co = face.au_coefficients(k, schedule)
                if "AU45" in co:
                    co["AU45"] *= blink_k
                if "JAW" in co:
                    co["JAW"] *= speech_k
                img, _ = face.render_with(co, face.pose_at(k, schedule))
                if gain is not None and gain[k] != 1.0:
                    img = np.clip(img * gain[k] + 0.5, 0, 255).astype(np.uint8)
                if bank is not None:
                    nz = bank[int(rng.integers(len(bank)))]
                    img = np.clip(img.astype(np.int16) + nz, 0, 255).astype(np.uint8)
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                for pkt in st.encode(fr):
                    c.mux(pkt)
            for pkt in st.encode():
                c.mux(pkt)
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    gt = out_path.with_name(out_path.stem + ".gt.csv")
    tmp = _tmp(gt)
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=["onset", "apex", "offset", "type", "aus", "kind", "amplitude", "detail"])
        wr.writeheader()
        wr.writerows(ground_truth_rows(schedule))
    os.replace(tmp, gt)
    meta = {
        "rig_version": RIG_VERSION,
        "identity": identity.name,
        "person": identity.person,
        "split": identity.split,
        "width": width,
        "height": height,
        "fps": float(fps),
        "n_frames": schedule.n_frames,
        "face_width_px": round(float(fw), 1),
        "codec": codec,
        "crf": crf if codec == "h264" else None,
        **({"gop": int(gop)} if gop and codec == "h264" else {}),
        "noise": float(noise),
        "seed": int(seed),
        "schedule_seed": schedule.seed,
        "video": out_path.name,
        "ground_truth": gt.name,
    }
    mp = out_path.with_name(out_path.stem + ".json")
    tmp = _tmp(mp)
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, mp)
    return Rendered(out_path, gt, meta)
