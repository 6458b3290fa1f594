"""Spotting quality on the varied rig: tuning faces and held-out faces (docs/spotting.md).

Renders two bounded sets of labelled videos with :mod:`acquisition.sim.varied` — the **tuning** set
(people ``astronaut``, ``pexels_woman``; from ``--seed 3`` on also ``obama`` and ``biden``, added in
the fifth round) and the **held-out** set (``grace_hopper``, ``pyfeat_man``:
other photographs of other people) — each video with its own identity warp, frame size (640x360 …
1280x720), face width (120 … 400 px, at most 0.55 × the height), codec (H.264 at CRF 18-28; one
FFV1 per set), frame rate (30, one in five at 25 fps), sensor noise (none on every third video)
and schedule (MEs of 1-4 px,
blinks, head drift, quick head turns, speech). Then it runs the spotter as ``mexlab spot`` does
(:func:`analysis.spotting.pipeline.spot`, feature cache on) and scores it with the MEGC protocol of
:mod:`analysis.evaluation` (IoU ≥ 0.5, one-to-one).

Reported per set: overall / micro / macro F1 with TP/FP/FN, precision and recall; ME recall per AU
set, per face width and per amplitude; false flags per minute overlapping head turns, speech and
in all; pipeline fps (videos whose features were not cached).

    nice -n 10 .venv/bin/python bench/spot_quality.py                   # both sets, 10 × 30 s each
    nice -n 10 .venv/bin/python bench/spot_quality.py --set heldout --n 6 --duration 20 --json
    nice -n 10 .venv/bin/python bench/spot_quality.py --set tuning --seed 1 --replay   # live decisions, fast
    nice -n 10 .venv/bin/python bench/spot_quality.py --set heldout --live             # StreamingSpotter
    nice -n 10 .venv/bin/python bench/spot_quality.py --set heldout --grey rgb --replay # = --live, fast
    .venv/bin/python bench/spot_quality.py --set tuning --time-detection 5           # + detection ms/frame
    nice -n 10 .venv/bin/python bench/spot_quality.py --set tuning --beyond            # outside the ranges

``--beyond`` renders a set outside every range above (docs/spotting.md, eleventh round): 60-s videos
at 15, 24, 50 and 60 fps, 1920x1080, 1024x768 and 640x480 frames, faces of 80-119 px and 400-600 px,
H.264 at CRF up to 32, and one more kind of interference, the light (exposure) changing.

``--grey rgb`` spots RGB copies of the H.264 videos (a session's colour video is RGB): offline and the
replay then work on OpenCV's grey of the RGB, as the live spotter does, and the replay gives the live
spotter's flags (docs/spotting.md, ninth round).

Videos and their feature caches are kept in ``--dir`` (default /tmp/mexlab-spot-quality): a second
run re-renders nothing and reads the features from the cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from acquisition.sim.identities import identities  # noqa: E402
from acquisition.sim.varied import (
    INTERFERENCE,
    RIG_VERSION,
    make_varied_schedule,
    read_ground_truth,  # noqa: E402
    render_video,
)
from analysis.evaluation import evaluate_spotting, match_intervals  # noqa: E402

SIZES = ((640, 360), (1280, 720), (848, 480), (960, 540))
WIDTH_BINS = ((40, 120), (120, 180), (180, 260), (260, 401), (401, 1200))
AMP_BINS = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.01))


#: Tuning sets of this seed and later also take the people added in the fifth round (first in
#: the cycle); seeds 0-2 keep the two first tuning people, so they render as before.
NEW_PEOPLE_SEED = 3
TUNING_PEOPLE = ("obama", "biden", "astronaut", "pexels_woman")


def set_people(split: str, seed: int) -> list[str] | None:
    """The people a set cycles (``None``: the first rounds' people of the split)."""
    return list(TUNING_PEOPLE) if split == "tuning" and seed >= NEW_PEOPLE_SEED else None


def plan(split: str, n: int, duration: float, seed: int = 0) -> list[dict]:
    """The videos of a set (deterministic)."""
    out = []
    tag = split if seed == 0 else f"{split}-s{seed}"
    people = set_people(split, seed)
    for i, ident in enumerate(identities(split, n, start=seed * ((n + 1) // 2), people=people)):
        rng = np.random.default_rng([seed, i, 1 if split == "heldout" else 0, 4242])
        w, h = SIZES[i % len(SIZES)]
        codec = "ffv1" if i == n - 1 and n > 2 else "h264"
        if codec == "ffv1":
            w, h = 640, 360
        fps = 25 if i % 5 == 3 else 30
        fw = float(rng.uniform(120, min(400, 0.55 * h)))
        out.append(
            {
                "name": f"{tag}-{i:02d}-{ident.person}-{ident.variant}",
                "identity": ident,
                "size": (w, h),
                "fps": fps,
                "face_width": round(fw, 1),
                "codec": codec,
                "noise": 0.0 if i % 3 == 0 else round(float(rng.uniform(0.5, 2.5)), 2),
                "crf": int(rng.choice([18, 21, 23, 26, 28])),
                "duration": duration,
                "schedule_seed": (5000 if split == "heldout" else 0) + 37 * seed + i,
            }
        )
    return out


#: The ``--beyond`` set's conditions, cycled: frame size, fps, face width range (px).
BEYOND = (
    ((1920, 1080), 30, (400, 600)),
    ((640, 480), 60, (120, 260)),
    ((1280, 720), 15, (150, 350)),
    ((1024, 768), 50, (80, 119)),
    ((1920, 1080), 24, (250, 600)),
)


def plan_beyond(split: str, n: int, duration: float, seed: int = 0) -> list[dict]:
    """A set outside the ranges the spotter was tuned on (deterministic): the conditions of
    :data:`BEYOND` cycled, every video with light changes besides the usual interference."""
    out = []
    tag = f"beyond-{split}" if seed == 0 else f"beyond-{split}-s{seed}"
    people = list(TUNING_PEOPLE) if split == "tuning" else None
    for i, ident in enumerate(identities(split, n, start=20 + seed * ((n + 1) // 2), people=people)):
        rng = np.random.default_rng([seed, i, 1 if split == "heldout" else 0, 777])
        (w, h), fps, (f0, f1) = BEYOND[i % len(BEYOND)]
        codec = "ffv1" if i == n - 1 and n > 2 else "h264"
        out.append(
            {
                "name": f"{tag}-{i:02d}-{ident.person}-{ident.variant}",
                "identity": ident,
                "size": (w, h),
                "fps": fps,
                "face_width": round(float(rng.uniform(f0, min(f1, 0.55 * h))), 1),
                "codec": codec,
                "noise": 0.0 if i % 3 == 0 else round(float(rng.uniform(0.5, 3.0)), 2),
                "crf": int(rng.choice([20, 24, 28, 30, 32])),
                "duration": duration,
                "schedule_seed": (9000 if split == "heldout" else 8000) + 37 * seed + i,
                "interference": ("blink", "drift", "turn", "speech", "light"),
            }
        )
    return out


def render(item: dict, folder: Path) -> dict:
    ext = ".mkv" if item["codec"] == "ffv1" else ".mp4"
    video = folder / (item["name"] + ext)
    meta_path = video.with_name(video.stem + ".json")
    kinds = item.get("interference")
    sched = make_varied_schedule(
        item["duration"], fps=item["fps"], seed=item["schedule_seed"], **({"interference": kinds} if kinds else {})
    )
    want = {
        "rig_version": RIG_VERSION,
        "identity": item["identity"].name,
        "width": item["size"][0],
        "height": item["size"][1],
        "fps": float(item["fps"]),
        "codec": item["codec"],
        "noise": item["noise"],
        "schedule_seed": item["schedule_seed"],
        "n_frames": sched.n_frames,
    }
    if item.get("gop"):
        want["gop"] = item["gop"]
    if kinds and "gaze" in kinds:
        want["gaze"] = True
    if video.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in want.items()):
            return dict(item, video=video, gt=read_ground_truth(video.with_name(video.stem + ".gt.csv")), meta=meta)
    out = render_video(
        item["identity"],
        sched,
        item["size"],
        item["fps"],
        video,
        codec=item["codec"],
        face_width=item["face_width"],
        noise=item["noise"],
        crf=item["crf"],
        seed=item["schedule_seed"],
        gop=item.get("gop"),
    )
    return dict(item, video=video, gt=read_ground_truth(out.ground_truth), meta=out.meta)


def as_session_video(item: dict, folder: Path) -> dict:
    """The item with its video as a session holds colour: lossless RGB (FFV1 bgr0), the rendered
    file's frames decoded to RGB once (``folder/rgb/``; an FFV1 video is RGB already). Spotting a
    session takes OpenCV's grey of the RGB, as the live spotter does; on a YUV file (H.264) offline
    spotting takes the luma plane as it is (``--grey``; docs/spotting.md, ninth round)."""
    import os

    import av

    from acquisition.video_writer import VideoFile

    src = Path(item["video"])
    if item["codec"] == "ffv1":
        return item
    dst = folder / "rgb" / (src.stem + ".mkv")
    if not dst.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(".tmp-" + dst.name)
        try:
            out = VideoFile(tmp, *item["size"], item["fps"], "rgb", codec="ffv1")  # the recorder's writer
            try:
                with av.open(str(src)) as ic:
                    for fr in ic.decode(video=0):
                        out.write(fr.to_ndarray(format="rgb24"))
            finally:
                out.close()
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                tmp.unlink()
    return dict(item, video=dst)


def _overlaps(a0, a1, b0, b1) -> bool:
    return a0 <= b1 and b0 <= a1


def score(items: list[dict], preds: dict[str, list[dict]]) -> dict:
    """MEGC scores and the breakdowns of one set; ``preds[name]`` are interval dicts."""
    gt = {
        it["name"]: [(r["onset"], r["offset"], r["type"]) for r in it["gt"] if r["kind"] == "expression"]
        for it in items
    }
    pr = {it["name"]: [(p["onset"], p["offset"], p["type"]) for p in preds[it["name"]]] for it in items}
    res = evaluate_spotting(gt, pr)
    by_au, by_w, by_amp = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    ff_turn = ff_speech = ff_light = ff_gaze = ff_all = 0
    minutes = 0.0
    for it in items:
        name = it["name"]
        rows = [r for r in it["gt"] if r["kind"] == "expression"]
        pairs = match_intervals(gt[name], pr[name])
        hit_g = {g for g, _ in pairs}
        hit_p = {p for _, p in pairs}
        fw = it["meta"]["face_width_px"]
        for gi, r in enumerate(rows):
            if r["type"] != "micro":
                continue
            ok = gi in hit_g
            for table, key in (
                (by_au, r["aus"]),
                (by_w, next(f"{a}-{b - 1}" for a, b in WIDTH_BINS if a <= fw < b)),
                (by_amp, next((f"{a:g}-{b:g}" for a, b in AMP_BINS if a <= r["amplitude"] < b), "other")),
            ):
                table[key][0] += ok
                table[key][1] += 1
        turns = [r for r in it["gt"] if r["type"] == "head" and r["detail"] == "turn"]
        speech = [r for r in it["gt"] if r["type"] == "speech"]
        light = [r for r in it["gt"] if r["type"] == "light"]
        gaze = [r for r in it["gt"] if r["type"] == "gaze"]
        for pi, (on, off, _) in enumerate(pr[name]):
            if pi in hit_p:
                continue
            ff_all += 1
            ff_turn += any(_overlaps(on, off, r["onset"], r["offset"]) for r in turns)
            ff_speech += any(_overlaps(on, off, r["onset"], r["offset"]) for r in speech)
            ff_light += any(_overlaps(on, off, r["onset"], r["offset"]) for r in light)
            ff_gaze += any(_overlaps(on, off, r["onset"], r["offset"]) for r in gaze)
        minutes += it["meta"]["n_frames"] / it["meta"]["fps"] / 60.0

    def rec(t):
        return {k: {"recall": round(v[0] / v[1], 3), "found": v[0], "of": v[1]} for k, v in sorted(t.items())}

    res["overall_by_person"] = {}
    for person in sorted({it["identity"].person for it in items}):
        sub = [it["name"] for it in items if it["identity"].person == person]
        o = evaluate_spotting({k: gt[k] for k in sub}, {k: pr[k] for k in sub})["overall"]
        res["overall_by_person"][person] = {"f1": round(o["f1"], 3), "tp": o["tp"], "fp": o["fp"], "fn": o["fn"]}
    res["me_recall_by_aus"] = rec(by_au)
    res["me_recall_by_face_width"] = rec(by_w)
    res["me_recall_by_amplitude"] = rec(by_amp)
    res["minutes"] = round(minutes, 2)
    res["false_flags_per_min"] = {
        "head_turn": round(ff_turn / minutes, 3),
        "speech": round(ff_speech / minutes, 3),
        "turn_or_speech": round((ff_turn + ff_speech) / minutes, 3),
        **(
            {"light": round(ff_light / minutes, 3)}
            if any(r["type"] == "light" for it in items for r in it["gt"])
            else {}
        ),
        **({"gaze": round(ff_gaze / minutes, 3)} if any(r["type"] == "gaze" for it in items for r in it["gt"]) else {}),
        "all": round(ff_all / minutes, 3),
    }
    return res


def spot_params(which: str):
    """The spotter's parameters by name (:func:`_spot_params`); every setting but ``now``, ``round12`` and ``round14``
    is from before the twelfth round, so the flow at a video's keyframes is not repaired
    (analysis/spotting/codec.py)."""
    p = _spot_params(which)
    return p if which in ("now", "round12", "round14") else replace(p, repair_gop_starts=False)


def _spot_params(which: str):
    """``now``: the defaults; ``before``: the parameters before the varied rig (issue 15);
    ``round3``: the defaults before the fourth round (activity floor fixed in crop px); ``round4``:
    before the fifth (``returned`` 0.5, ``blink_amp`` 0.4); ``round5``: before the sixth (no still-frame
    noise floor, no paired-lid blinks); ``round6``: before the seventh (speech floor 0.3 crop px, blinks
    own whatever overlaps them, no common-motion test); ``round10``: before the eleventh (no light
    rule, no apex tolerance in grouping); ``round11``: before the twelfth (the blink rules measure a lid
    candidate's activity stretch, not its refined ends; no keyframe repair; intervals of any reported
    length; no gaze rule); ``round12``: before the thirteenth (no second pass for micro-expressions);
    ``round14``: before the fifteenth (the common-motion test's head motion over the member's own
    frames, ``common_pad_s`` 0)."""
    from analysis.spotting.detect import DetectParams
    from analysis.spotting.interference import InterferenceParams
    from analysis.spotting.pipeline import SpotParams

    # the fifteenth round's padding off, then the thirteenth round's second pass, then the twelfth
    # round's blink extent and the eleventh round's rules too (every earlier round had none of them)
    ROUND14_I = InterferenceParams(common_pad_s=0.0)
    ROUND12_D = DetectParams(micro_pass_s=0.0)
    ROUND11_I = replace(ROUND14_I, blink_by_ends=False, gaze_l1=0.0)
    ROUND11_D = replace(ROUND12_D, min_report_s=0.0)
    ROUND10_D = replace(ROUND11_D, group_apex_tol_s=0.0)
    ROUND10_I = replace(ROUND11_I, light_frac=0.0)
    # the seventh round's rules off too (every earlier round had none of them)
    ROUND6 = replace(ROUND10_I, speech_prom=0.3, blink_sync_s=0.0, blink_face_leak=0.0, common_ratio=0.0)
    if which == "before":
        return SpotParams(
            detect=replace(ROUND10_D, k_amp=5.0, detrend_s=0.0, min_len_s=0.0, still_px=0.0),
            interference=replace(ROUND6, brow_leak=0.6, head_ratio=6.0, blink_pair_amp=0.0),
        )
    if which == "round3":
        return SpotParams(
            detect=replace(ROUND10_D, speed_ref_px=0.0, returned=0.5, still_px=0.0),
            interference=replace(ROUND6, blink_amp=0.4, blink_pair_amp=0.0),
        )
    if which == "round6":
        return SpotParams(detect=ROUND10_D, interference=ROUND6)
    if which == "round10":
        return SpotParams(detect=ROUND10_D, interference=ROUND10_I)
    if which == "round11":
        return SpotParams(detect=ROUND11_D, interference=ROUND11_I)
    if which == "round14":
        return SpotParams(interference=ROUND14_I)
    if which == "round12":
        return SpotParams(detect=ROUND12_D, interference=ROUND14_I)
    if which == "round5":
        return SpotParams(detect=replace(ROUND10_D, still_px=0.0), interference=replace(ROUND6, blink_pair_amp=0.0))
    if which == "round4":
        return SpotParams(
            detect=replace(ROUND10_D, returned=0.5, still_px=0.0),
            interference=replace(ROUND6, blink_amp=0.4, blink_pair_amp=0.0),
        )
    return SpotParams()


def run_spotter(items: list[dict], use_cache: bool = True, params=None) -> tuple[dict, list[float]]:
    from analysis.spotting.pipeline import spot

    preds, fps = {}, []
    for it in items:
        r = spot(it["video"], use_cache=use_cache, params=params)
        preds[it["name"]] = r.intervals
        tm = r.features.timings if r.features is not None else {}
        if not r.features.from_cache and tm.get("total_s"):
            fps.append(r.n_frames / tm["total_s"])
    return preds, fps


def run_live(items: list[dict], params=None, live_kw=None) -> tuple[dict, list[float]]:
    """The same videos through :class:`StreamingSpotter` (frames pushed one by one with their
    times); its flags are the predictions. Returns them and the latency (flag − ME offset, s) of
    every flag that matches a micro-expression."""
    import av

    from acquisition.session_read.video import gop_starts
    from analysis.spotting.live import StreamingSpotter

    preds, lat = {}, {}
    for it in items:
        events = []
        starts = set(gop_starts(it["video"]).tolist())  # decoded frames: what the codec put in, as offline
        with av.open(str(it["video"])) as c, StreamingSpotter(it["fps"], params=params, **(live_kw or {})) as sp:
            for k, fr in enumerate(c.decode(video=0)):
                events += sp.push(fr.to_ndarray(format="rgb24"), k / it["fps"], gop_start=k in starts)
            events += sp.flush()
        preds[it["name"]] = _confirmed(events)
        _latencies(it, events, lat)
    return preds, lat


def _confirmed(events: list) -> list[dict]:
    return [{"onset": f.onset, "offset": f.offset, "type": f.type} for f in events if f.state == "confirmed"]


def _latencies(it: dict, events: list, into: dict) -> None:
    """Into ``into``: ``confirmed`` and ``shown`` (the flag's first appearance, provisional or
    confirmed): ME offset → flag (s, processing included) of every confirmed flag that matches a
    micro-expression; ``withdrawn``: how many provisional flags were taken back; ``minutes``."""
    flags = [f for f in events if f.state == "confirmed"]
    first: dict = {}
    for f in events:
        first.setdefault(f.key, f.flagged_at + f.processing_s)
    gt = [r for r in it["gt"] if r["type"] == "micro"]
    pairs = match_intervals([(r["onset"], r["offset"]) for r in gt], [(f.onset, f.offset) for f in flags])
    for _g, p in pairs:
        f = flags[p]
        into.setdefault("confirmed", []).append(f.latency_s + f.processing_s)
        into.setdefault("shown", []).append(first.get(f.key, f.flagged_at + f.processing_s) - f.offset_t)
    into["withdrawn"] = into.get("withdrawn", 0) + sum(f.state == "withdrawn" for f in events)
    into["minutes"] = into.get("minutes", 0.0) + it["duration"] / 60.0


def run_replay(items: list[dict], params=None, live_kw=None) -> tuple[dict, list[float], dict]:
    """The live spotter's decisions replayed on the offline features (``live.replay``: no video
    decoding, no face model; the features differ from live ones only by the grey conversion), and
    the offline intervals of the same features. Returns the replayed flags, their latencies (stream
    time only) and the offline predictions."""
    from analysis.spotting.live import replay
    from analysis.spotting.pipeline import spot

    preds, lat, offline = {}, {}, {}
    for it in items:
        r = spot(it["video"], use_cache=True, params=params)
        events = replay(r.features, it["fps"], params=params, **(live_kw or {}))
        preds[it["name"]] = _confirmed(events)
        offline[it["name"]] = r.intervals
        _latencies(it, events, lat)
    return preds, lat, offline


def time_detection(items: list[dict], params=None, runs: int = 5) -> dict:
    """Detection alone (``pipeline.spot_features``, both passes, interference elimination) on the
    set's cached features: ms per frame over the whole set, ``runs`` times (after one warm-up)."""
    from analysis.spotting.features import extract_features
    from analysis.spotting.pipeline import spot_features

    feats = [extract_features(it["video"], use_cache=True) for it in items]
    n = sum(f.n_frames for f in feats)
    spot_features(feats[0], feats[0].fps, params=params)
    ms = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        for f in feats:
            spot_features(f, f.fps, params=params)
        ms.append(1000.0 * (time.perf_counter() - t) / max(n, 1))
    return {"median": round(float(np.median(ms)), 4), "min": round(min(ms), 4), "max": round(max(ms), 4), "frames": n}


def agreement(items: list[dict], live: dict, offline: dict) -> dict:
    """Live flags that offline also reports (IoU ≥ 0.5, one-to-one) and offline intervals found live."""
    both = n_live = n_off = 0
    for it in items:
        a = [(p["onset"], p["offset"]) for p in live[it["name"]]]
        b = [(p["onset"], p["offset"]) for p in offline[it["name"]]]
        both += len(match_intervals(a, b))
        n_live += len(a)
        n_off += len(b)
    return {"matched": both, "live": n_live, "offline": n_off}


def build(
    split: str,
    n: int,
    duration: float,
    folder: Path,
    seed: int = 0,
    log=print,
    beyond: bool = False,
    gop: int | None = None,
    gaze: bool = False,
) -> list[dict]:
    """The set's videos, rendered into ``folder`` unless there already; ``gop``: every H.264 video
    with a keyframe every ``gop`` frames, as many cameras write (x264's default is 250; named ``…-gGOP``);
    ``gaze``: with gaze shifts besides the set's interference (named ``…-gaze``)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for it in (plan_beyond if beyond else plan)(split, n, duration, seed):
        if gop and it["codec"] == "h264":
            it = dict(it, name=f"{it['name']}-g{gop}", gop=int(gop))
        if gaze:
            kinds = (*it.get("interference", INTERFERENCE), "gaze")
            it = dict(it, name=f"{it['name']}-gaze", interference=kinds)
        t0 = time.perf_counter()
        items.append(render(it, folder))
        dt = time.perf_counter() - t0
        if dt > 1:
            log(
                f"rendered {it['name']} {it['size'][0]}x{it['size'][1]} {it['codec']} "
                f"face {it['face_width']:.0f}px in {dt:.0f} s"
            )
    return items


def format_result(split: str, res: dict, fps: list[float]) -> str:
    o, mi, ma = res["overall"], res["micro"], res["macro"]
    lines = [
        f"== {split}: {res['minutes']} min of video",
        f"overall F1 {o['f1']:.3f} (TP {o['tp']} FP {o['fp']} FN {o['fn']}; "
        f"P {o['precision']:.3f} R {o['recall']:.3f})",
        f"micro   F1 {mi['f1']:.3f} (TP {mi['tp']} FP {mi['fp']} FN {mi['fn']}; "
        f"P {mi['precision']:.3f} R {mi['recall']:.3f})",
        f"macro   F1 {ma['f1']:.3f} (TP {ma['tp']} FP {ma['fp']} FN {ma['fn']})",
        "false flags/min: " + ", ".join(f"{k} {v}" for k, v in res["false_flags_per_min"].items()),
    ]
    lines.append(
        "overall F1 by person: "
        + ", ".join(f"{k} {v['f1']:.3f} ({v['tp']}/{v['fp']}/{v['fn']})" for k, v in res["overall_by_person"].items())
    )
    for key in ("me_recall_by_aus", "me_recall_by_face_width", "me_recall_by_amplitude"):
        lines.append(key + ": " + ", ".join(f"{k} {v['found']}/{v['of']}" for k, v in res[key].items()))
    if fps:
        lines.append(f"pipeline fps (uncached videos): median {np.median(fps):.0f} (n={len(fps)})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("tuning", "heldout", "both"), default="both")
    ap.add_argument("--n", type=int, default=10, help="videos per set")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per video")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mexlab-spot-quality"))
    ap.add_argument("--no-cache", action="store_true", help="re-extract the features")
    ap.add_argument(
        "--params",
        choices=("now", "before", "round3", "round4", "round5", "round6", "round10", "round11", "round12", "round14"),
        default="now",
        help="the spotter's parameters: now (defaults), before the varied rig, before the fourth, fifth, sixth, "
        "seventh, eleventh, twelfth, thirteenth or fifteenth round (the live window: --window-s)",
    )
    ap.add_argument("--live", action="store_true", help="score the live StreamingSpotter's flags instead (slower)")
    ap.add_argument(
        "--replay",
        action="store_true",
        help="score the live spotter's decisions replayed on the cached offline features (fast; for choosing)",
    )
    ap.add_argument("--confirm-s", type=float, default=None, help="live: StreamingSpotter confirm_s")
    ap.add_argument("--mouth-confirm-s", type=float, default=None, help="live: StreamingSpotter mouth_confirm_s")
    ap.add_argument("--agree-s", type=float, default=None, help="live: StreamingSpotter agree_s")
    ap.add_argument(
        "--window-s",
        type=float,
        default=None,
        help="live: StreamingSpotter window_s (16; 8 before the fifteenth round)",
    )
    ap.add_argument("--check-s", type=float, default=None, help="live: StreamingSpotter check_s (0.2)")
    ap.add_argument(
        "--agree-macro-s", type=float, default=None, help="live: StreamingSpotter agree_macro_s (macro-expressions)"
    )
    ap.add_argument(
        "--grey",
        choices=("luma", "rgb"),
        default="luma",
        help="the grey image offline spotting and --replay work on: the H.264 videos' luma plane (default) "
        "or OpenCV's grey of their RGB, as a session's video and the live spotter give (an RGB copy is "
        "made once in DIR/rgb)",
    )
    ap.add_argument(
        "--beyond",
        action="store_true",
        help="a set outside the tuned ranges: 15-60 fps, 640x480-1920x1080, faces 80-600 px, light changes "
        "(--duration defaults to 60 s)",
    )
    ap.add_argument(
        "--gop",
        type=int,
        default=None,
        help="H.264 videos with a keyframe every GOP frames (cameras: 30-60; default x264's 250)",
    )
    ap.add_argument(
        "--gaze", action="store_true", help="the set with gaze shifts besides its interference (names …-gaze)"
    )
    ap.add_argument(
        "--time-detection",
        type=int,
        default=0,
        metavar="N",
        help="also time detection alone (pipeline.spot_features) on the set's cached features, N runs: "
        "ms per frame (median, range)",
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.beyond and a.duration == 30.0:
        a.duration = 60.0
    log = (lambda *x: print(*x, file=sys.stderr)) if a.json else print
    out = {}
    for split in ("tuning", "heldout") if a.set == "both" else (a.set,):
        items = build(split, a.n, a.duration, a.dir, a.seed, log, beyond=a.beyond, gop=a.gop, gaze=a.gaze)
        if a.grey == "rgb":
            items = [as_session_video(it, a.dir) for it in items]
        t0 = time.perf_counter()
        opts = (
            ("confirm_s", a.confirm_s),
            ("mouth_confirm_s", a.mouth_confirm_s),
            ("agree_s", a.agree_s),
            ("window_s", a.window_s),
            ("check_s", a.check_s),
            ("agree_macro_s", a.agree_macro_s),
        )
        live_kw = {k: v for k, v in opts if v is not None}
        agree = None
        if a.live:
            preds, lat = run_live(items, spot_params(a.params), live_kw)
            fps = []
        elif a.replay:
            preds, lat, offline = run_replay(items, spot_params(a.params), live_kw)
            agree = agreement(items, preds, offline)
            fps = []
        else:
            preds, fps = run_spotter(items, use_cache=not a.no_cache, params=spot_params(a.params))
        res = score(items, preds)
        if agree is not None:
            res["live_vs_offline"] = agree
        if a.live or a.replay:
            res["live_latency_s"] = {
                k: {
                    "median": round(float(np.median(lat[k])), 3) if lat.get(k) else None,
                    "max": round(float(np.max(lat[k])), 3) if lat.get(k) else None,
                    "n": len(lat.get(k, [])),
                }
                for k in ("shown", "confirmed")
            }
            res["live_withdrawn_per_min"] = round(lat.get("withdrawn", 0) / max(lat.get("minutes", 0), 1e-9), 2)
        if a.time_detection > 0:
            res["detection_ms_per_frame"] = time_detection(items, spot_params(a.params), a.time_detection)
        res["fps_uncached"] = [round(f, 1) for f in fps]
        res["spot_s"] = round(time.perf_counter() - t0, 1)
        res["videos"] = [
            {
                k: (v if k != "identity" else v.name)
                for k, v in it.items()
                if k in ("name", "identity", "size", "fps", "face_width", "codec")
            }
            for it in items
        ]
        out[split] = res
        if not a.json:
            print(format_result(split, res, fps))
            if a.live or a.replay:
                print("live latency (ME offset -> flag, processing included):", res["live_latency_s"])
                print("provisional flags withdrawn per minute:", res["live_withdrawn_per_min"])
            if agree is not None:
                print("replayed live flags also offline (IoU >= 0.5):", agree)
            if "detection_ms_per_frame" in res:
                print("detection alone on the cached features, ms/frame:", res["detection_ms_per_frame"])
    if a.json:
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
