"""``mexlab record``: one session from the camera source and LSL streams."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB
from acquisition.session_read.names import frame_index_stream
from acquisition.sources import RecordConfig


def add_parser(sub) -> None:
    p = sub.add_parser(
        "record",
        help="record a session (simulated rig, camera file, live camera, LSL streams)",
        description="Record one session into a new folder: XDF (LabRecorder) + lossless video + session.json.",
    )
    add_source_arguments(p)
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl+C)")
    p.add_argument("--participant", metavar="ID", help="participant pseudonym")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the new session folder")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument(
        "--spot",
        action="store_true",
        help="spot expressions live, as the Record window does (the confirmed flags are printed); when the "
        "spotter sees every frame its features are kept, so `mexlab spot` on the session need not decode the video",
    )
    p.set_defaults(func=run)


def add_source_arguments(p) -> None:
    """What is recorded and where it is catalogued: shared by ``record`` and ``run-protocol``."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--simulate", action="store_true", help="record the simulated participant rig")
    src.add_argument("--camera-file", type=Path, metavar="FILE", help="play a RealSense .db3/.bag file as the camera")
    p.add_argument("--no-camera", action="store_true", help="record LSL streams only (no video)")
    p.add_argument(
        "--lsl",
        action="append",
        default=[],
        metavar="NAME",
        help="an LSL stream to record: NAME, name=NAME, type=TYPE or source_id=ID (repeatable)",
    )
    p.add_argument("--rgb", metavar="WxH@FPS", help=f"colour mode (default {DEFAULT_RGB})")
    p.add_argument("--depth", metavar="WxH@FPS", help=f"depth mode (default {DEFAULT_DEPTH})")
    p.add_argument("--serial", help="the camera's serial number when several are connected")
    p.add_argument(
        "--colour-codec",
        metavar="CODEC",
        help="the colour video's lossless codec: x264rgb-intra (default: H.264 RGB, every frame a keyframe), "
        "ffv1 (smaller, about half the encoding speed) or x264rgb (a keyframe each second)",
    )
    p.add_argument(
        "--db", metavar="URL", help="catalog database URL (default: MEXLAB_DB or SQLite in the user data folder)"
    )
    p.add_argument("--no-catalog", action="store_true", help="do not register the session in the catalog")
    p.add_argument("--lsl-timeout", type=float, default=5.0, metavar="S", help="how long to look for LSL streams")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulated participant")


def config_from_args(args: argparse.Namespace) -> RecordConfig:
    """The command line's request, through the one RecordConfig builder (app/services/recording.py)."""
    from app.services.recording import build_config

    if args.simulate:
        source = "simulate"
    elif args.camera_file is not None:
        source = "camera-file"
    elif args.no_camera:
        source = "none"
    else:
        source = "live"
    return build_config(
        out=args.out,
        source=source,
        camera_file=args.camera_file,
        no_camera=args.no_camera,
        lsl=args.lsl,
        duration=args.duration,
        participant=args.participant,
        rgb=args.rgb,
        depth=args.depth,
        db=args.db,
        register=not args.no_catalog,
        serial=args.serial,
        lsl_timeout=args.lsl_timeout,
        seed=args.seed,
        colour_codec=args.colour_codec,
    )


def progress_line(snap: dict) -> str:
    t = snap["elapsed"]
    parts = [f"[{int(t // 60):02d}:{t % 60:04.1f}]"]
    for key, v in snap["videos"].items():
        drops = v["dropped_counter_gap"] + v["dropped_queue_overflow"]
        parts.append(f"{key} {v['frames_written']} fr" + (f" ({drops} DROPPED)" if drops else "") + f" q{v['queue']}")
    for name, s in snap["streams"].items():
        parts.append(f"{name} {s['samples']}" + (f" ({s['missing']} LOST)" if s["missing"] else ""))
    parts.append(f"{snap['bytes'] / 1e6:.1f} MB")
    return " | ".join(parts)


def run(args: argparse.Namespace) -> int:
    from acquisition.recorder import FAILURE_PREFIXES
    from app.services.recording import Recording

    config = config_from_args(args)
    recording = Recording(config)
    recording.prepare()
    rec = recording.recorder
    stop_signals = {"n": 0}

    def on_signal(signum, frame):
        stop_signals["n"] += 1
        rec.request_stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # a failed start is abandoned (folder marked interrupted) and raised
        spotting = recording.start(live_spotting(quiet=args.quiet) if getattr(args, "spot", False) else None)
        if not args.quiet:
            for line in preflight_lines(rec):
                print(line, file=sys.stderr)
        print(f"recording to {rec.folder} (Ctrl+C stops)", file=sys.stderr)
        tty = sys.stderr.isatty() and not args.quiet
        last_line = 0.0
        reason = None
        while reason is None:
            time.sleep(0.1 if config.duration is None or config.duration > 1 else 0.02)
            reason = rec.should_stop()
            now = time.monotonic()
            if now - last_line >= (1.0 if tty else 5.0):
                last_line = now
                snap = rec.write_progress()
                if not args.quiet:
                    line = progress_line(snap)
                    print(
                        ("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True
                    )
        if tty:
            print(file=sys.stderr)
        print(f"stopping ({reason}) …", file=sys.stderr)
        meta = recording.stop(reason)
        if spotting is not None:
            print(spotting_line(meta.get("live_spotting") or spotting.summary()["live_spotting"]), file=sys.stderr)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    print_summary(rec, meta)
    failed = list(rec.errors)
    if reason and reason.startswith(FAILURE_PREFIXES):
        failed.insert(0, reason)
    if failed:
        first = failed[0]
        print(
            f"mexlab record: error: {first}; the recording stopped after {meta['duration_s']:.1f} s and what "
            f"was recorded up to then is kept in {rec.folder}",
            file=sys.stderr,
        )
        for other in failed[1:]:
            if "the disk is full" in other and "the disk is full" in first:
                continue  # the same cause, seen by another file
            print(f"mexlab record: note: {other}", file=sys.stderr)
        return 1
    return 0


def live_spotting(*, quiet: bool = False):
    """``attach`` for :meth:`Recording.start`: the Record window's live spotter on the recorder's colour
    frames (its face model loaded here, before the camera starts), printing each confirmed flag."""

    def on_flag(sf) -> None:
        f = sf.flag
        if quiet or getattr(f, "state", "confirmed") != "confirmed":
            return
        aus = "+".join(f.aus) if f.aus else "-"
        print(f"spotted: {f.type} frames {f.onset}-{f.offset} {aus} (score {f.score:.2f})", file=sys.stderr, flush=True)

    def attach(rec):
        from app.services.live_spotting import LiveSpotting, load_spotter

        if rec.camera is None or "rgb" not in rec.camera.streams:
            print("live spotting: off (no colour video)", file=sys.stderr)
            return None
        fps = rec.camera.mode("rgb").fps
        ls = LiveSpotting(rec, on_flag, spotter=load_spotter(fps), recognizer=None)
        ls.start()
        return ls

    return attach


def spotting_line(s: dict) -> str:
    """One line on what live spotting saw (session.json's ``live_spotting``)."""
    feats = s.get("features") or {}
    kept = (
        "its features kept (mexlab spot will not decode the video)"
        if feats.get("complete")
        else f"features not kept ({feats.get('why_not') or 'not every frame seen'})"
    )
    err = f"; error: {s['error']}" if s.get("error") else ""
    return (
        f"live spotting: {s.get('frames_spotted', 0)} of {s.get('frames_recorded', 0)} frames spotted, "
        f"{s.get('flags', 0)} flag(s), {kept}{err}"
    )


def preflight_lines(rec) -> list[str]:
    lines = []
    if rec.camera is not None:
        d = rec.camera.describe()
        dev = d["devices"][0]
        modes = ", ".join(f"{k} {m['width']}x{m['height']}@{m['fps']} {m['format']}" for k, m in d["modes"].items())
        lines.append(f"camera: {dev['name']} #{dev['serial']} ({rec.camera.kind}): {modes}")
    for s in rec.inputs:
        lines.append(f"lsl: {s.describe()}")
    return lines


def print_summary(rec, meta: dict) -> None:
    print(f"session {meta['session_id']} in {rec.folder}")
    print(f"  status {meta['status']}, {meta['duration_s']:.1f} s, participant {meta.get('participant') or '-'}")
    dur = max(meta["duration_s"], 1e-9)
    for key, c in meta.get("counts", {}).items():
        fps = (meta.get("modes") or {}).get(key, {}).get("fps")
        index = next(
            (
                s
                for s in meta.get("streams", [])
                if s.get("role") == "frame_index" and s["name"] == frame_index_stream(key)
            ),
            {},
        )
        measured = index.get("measured_hz") or c["frames_written"] / dur
        rate = f", {measured:.2f} fps measured" + (f" ({fps:g} nominal)" if fps else "")
        print(
            f"  {key}: {c['frames_written']} frames written, {c['frames_received']} received, "
            f"dropped {c['dropped_counter_gap']} (camera) + {c['dropped_queue_overflow']} (encoder queue){rate}"
        )
    for s in meta.get("streams", []):
        print(f"  {s['name']} [{s['type']}] {s['samples']} samples, {s['gaps']} gaps{stream_rate(s, dur)}")
    print(f"  dropped frames {meta['dropped_frames']}, lost samples {meta['dropped_samples']}")


def stream_rate(s: dict, duration: float) -> str:
    """``, 99.87 Hz measured (100 Hz nominal)`` for a regular stream (the rate the file holds when
    the recorder counted it there, else samples over the duration); ``, irregular`` for markers."""
    hz = s.get("measured_hz")
    if hz is None and duration > 0:
        hz = s["samples"] / duration
    if s["nominal_srate"] > 0:
        return f", {hz or 0.0:.2f} Hz measured ({s['nominal_srate']:g} Hz nominal)"
    return f", irregular ({hz or 0.0:.2f} per s)" if s["samples"] else ", irregular"
