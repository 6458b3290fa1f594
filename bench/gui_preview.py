"""Preview frame rate and dropped frames while the GUI records the simulated rig at 848x480@30
(RGB + depth) with live EMG/ECG/EDA traces. Goal: preview >= 25 fps, 0 dropped frames.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_preview.py [--seconds 60]
    # under an artificial CPU load (N busy processes), encoders in their own processes or threads:
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_preview.py --seconds 30 --load 6 --encoders thread
    # the rig's renderer in a thread of the GUI's process, as before issue 10's fix:
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_preview.py --seconds 30 --rig-render thread
    # the live spotter in the GUI's process, as before it got a process of its own:
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_preview.py --seconds 30 --spotter thread
    xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python bench/gui_preview.py   # a real X server
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-live-spotting", action="store_true", help="switch live spotting off")
    ap.add_argument(
        "--spotter",
        choices=("process", "thread"),
        default="process",
        help="the live spotter in a process of its own at a lower priority (default) or in the GUI's process",
    )
    ap.add_argument(
        "--spot-queue", type=int, metavar="N", help="frames the live spotting queue holds (default: LiveSpotting's)"
    )
    ap.add_argument("--load", type=int, default=0, metavar="N", help="N busy processes beside the GUI")
    ap.add_argument(
        "--codec", help="the colour codec (acquisition/video_writer.py COLOUR_CODECS; default: the default)"
    )
    ap.add_argument(
        "--encoders",
        choices=("process", "thread"),
        default="process",
        help="the GUI's encoders in processes of their own (default) or threads (before issue 10)",
    )
    ap.add_argument(
        "--rig-render",
        choices=("process", "thread"),
        default="process",
        help="the rig's renderer in a process of its own (default) or a thread of the GUI's (before issue 10)",
    )
    args = ap.parse_args()
    import subprocess

    busy = f"import time\nend = time.monotonic() + {args.seconds + 120}\nwhile time.monotonic() < end: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(args.load)]
    try:
        return _run(args)
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def _run(args) -> int:
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="mexlab-guibench-"))
    os.environ.setdefault("MEXLAB_CONFIG_DIR", str(work / "config"))
    os.environ.setdefault("MEXLAB_DB", f"sqlite:///{work / 'catalog.sqlite'}")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.services.settings import Settings

    app = QApplication.instance() or QApplication([])
    if args.rig_render == "thread":
        import acquisition.sim.camera as camera

        class InThread(camera.SimulatedCamera):
            def __init__(self, *a, **k):
                super().__init__(*a, **dict(k, render_process=False))

        camera.SimulatedCamera = InThread  # what SimulatedRig builds
    # the recording's config as the Record workspace builds it, with what the flags change
    overrides = {}
    if args.encoders == "thread":
        overrides["encoder_process"] = False
    if args.codec:
        overrides["colour_codec"] = args.codec
    if overrides:
        import dataclasses
        import importlib

        ws = importlib.import_module("app.gui.workspaces.record")
        made = ws.config_from_settings
        ws.config_from_settings = lambda *a, **k: dataclasses.replace(made(*a, **k), **overrides)

    if args.spot_queue:
        import app.services.live_spotting as live_spotting

        made_live = live_spotting.LiveSpotting.__init__

        def deeper(self, *a, **k):
            made_live(self, *a, **dict(k, max_queue=args.spot_queue))

        live_spotting.LiveSpotting.__init__ = deeper
    if args.spotter == "thread":
        import app.services.live_spotting as live_spotting

        made_spotter = live_spotting.load_spotter
        live_spotting.load_spotter = lambda fps, **k: made_spotter(fps, in_process=True)

    def wait(sec: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(sec * 1000), loop.quit)
        loop.exec()

    win = MainWindow(Settings(output_folder=str(work / "sessions"), source="simulate"), simulate=True)
    win.resize(1500, 900)
    win.show()
    win.tabs.setCurrentWidget(win.record)
    win.record.spotted.enabled.setChecked(not args.no_live_spotting)
    win.record.run_preflight()
    while not win.record.preflight_ok:
        wait(0.2)
    tick_s = [0.0]
    orig_tick = win.record._tick

    def timed_tick():
        t = time.perf_counter()
        orig_tick()
        tick_s[0] += time.perf_counter() - t

    win.record.timer.timeout.disconnect()
    win.record.timer.timeout.connect(timed_tick)
    t_start = time.perf_counter()
    win.record.start_recording()
    while not win.record.controller.recording:
        wait(0.02)
    start_s = time.perf_counter() - t_start
    wait(2.0)  # warm-up
    rates = []
    n0, t0 = win.record.rgb_preview.frames_shown, time.perf_counter()
    end = t0 + args.seconds
    while time.perf_counter() < end:
        a, ta = win.record.rgb_preview.frames_shown, time.perf_counter()
        wait(5.0)
        rates.append((win.record.rgb_preview.frames_shown - a) / (time.perf_counter() - ta))
    total = (win.record.rgb_preview.frames_shown - n0) / (time.perf_counter() - t0)
    rec = win.record.controller.recorder
    cam = rec.rig.camera
    gui_busy = tick_s[0] / (time.perf_counter() - t_start)
    encode_ms = {
        k: round(1000 * w.stats.encode_seconds / max(1, w.stats.frames_written), 1) for k, w in rec.writers.items()
    }
    win.record.controller.stop("benchmark done")
    meta = win.record.controller.state.last_session
    win.confirm_close = lambda box: 0
    win.close()
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "platform": app.platformName(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "seconds": args.seconds,
        "preview_fps_mean": total,
        "preview_fps_median_5s": statistics.median(rates),
        "preview_fps_min_5s": min(rates),
        "live_spotting": not args.no_live_spotting,
        "start_s": round(start_s, 2),
        "dropped_frames": meta["dropped_frames"],
        "dropped_by_video": {
            k: {"camera_counter_gap": v["dropped_counter_gap"], "queue_overflow": v["dropped_queue_overflow"]}
            for k, v in meta["counts"].items()
        },
        "encode_ms_per_frame": encode_ms,
        "gui_thread_busy_in_timer": round(gui_busy, 3),
        "rig_render": args.rig_render,
        "spotter": args.spotter,
        "rig_frames_skipped": cam.frames_skipped,
        "rig_render_ms_mean": round(1000 * cam.render_seconds / max(1, cam.frames_generated), 1),
        "live_spotting_summary": meta.get("live_spotting"),
        "load_average": [round(load0, 1), round(os.getloadavg()[0], 1)],
        "busy_processes": args.load,
        "encoders": args.encoders,
        "colour_codec": args.codec or "default",
        "dropped_samples": meta["dropped_samples"],
        "frames_recorded": meta["counts"]["rgb"]["frames_written"],
        "session": str(rec.folder),
        "flags": [
            [f.flag.onset, f.flag.offset, f.recognition_s and round(f.recognition_s, 3)]
            for f in win.record.controller.attached.flags
        ]
        if getattr(win.record.controller, "attached", None) is not None
        else None,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
