"""Marker timing of the protocol display: how far each flip timestamp is from the moment the picture was
really on the screen, and how many stimulus frames were dropped at 30 fps.

    .venv/bin/python bench/marker_timing.py [--platform offscreen|xvfb|both] [--clips N]

* ``xvfb``: starts its own ``Xvfb :99`` (1280x720), runs a protocol (fixation, demo clip to its end,
  text; N times) full screen on it with the photodiode patch on, and meanwhile a *second X client* (this
  process, its own connection to the server) reads the patch's pixel in a tight loop with GetImage:
  a software light sensor. The patch changes colour at every flip, so every transition it sees is one
  flip. Error = flip timestamp (marker / stimulus_frames.csv) - moment the sensor first saw the new
  colour (the midpoint between the last read of the old colour and the first read of the new one;
  the half-width of that interval is the sensor's resolution, reported too).
* ``offscreen``: the offscreen platform has no screen to watch: the picture is in the window's image
  once ``repaint()`` returns. Reported: how long the repaint took (the picture appeared somewhere in
  that interval, and the timestamp is its end, so that duration bounds the error) and the frames.

Dropped frames: frames of the clip never shown, and the lateness of each shown frame (flip - due).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from acquisition.session_read.names import STIMULUS_FRAMES_NAME  # noqa: E402

PROTOCOL = """\
format: mexlab-protocol/1
name: timing-bench
demo_stimuli: true
screen: {{photodiode: true}}
blocks:
  - id: clips
    trials:
      conditions: [{rows}]
      steps:
        - type: fixation
          duration: 0.5
        - type: stimulus
          video: "{{clip}}"
          until: end
        - type: stimulus
          text: "{{clip}} is over"
          duration: 0.5
"""
CLIPS = ["amusement", "disgust", "sadness", "fear", "surprise", "neutral"]


# -- the run (a child process on the platform under test) ----------------------------------------
def child(folder: Path, clips: int) -> None:
    import uuid

    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from acquisition.outlets import MarkerOutlet
    from app.gui.protocol.display import ParticipantDisplay
    from app.gui.protocol.run import ProtocolRun
    from protocols.loader import load_protocol
    from protocols.plan import build_plan

    app = QApplication(["bench"])
    rows = ", ".join(f"{{clip: {c}.mp4}}" for c in CLIPS[:clips])
    (folder / "bench.yaml").write_text(PROTOCOL.format(rows=rows))
    plan = build_plan(load_protocol(folder / "bench.yaml"), "B1")
    display = ParticipantDisplay(plan.protocol.screen)
    display.show_on(app.screens()[0], fullscreen=True)
    time.sleep(0.5)
    app.processEvents()
    run = ProtocolRun(plan, MarkerOutlet(uuid.uuid4().hex), folder, display, sound=False)
    loop = QEventLoop()
    run.finished.connect(loop.quit)
    run.start()
    loop.exec()
    (folder / "flips.json").write_text(json.dumps(run.flips))


# -- the software light sensor (a second X client) -----------------------------------------------
class Sensor(threading.Thread):
    """Reads one pixel of the screen as fast as it can, over its own X connection."""

    def __init__(self, display: str, x: int, y: int):
        super().__init__(daemon=True)
        import pylsl

        self.clock = pylsl.local_clock
        xcb = ctypes.CDLL("libxcb.so.1")
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]

        class Cookie(ctypes.Structure):
            _fields_ = [("sequence", ctypes.c_uint)]

        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        xcb.xcb_get_setup.restype = ctypes.c_void_p
        xcb.xcb_get_setup.argtypes = [ctypes.c_void_p]
        xcb.xcb_get_image.restype = Cookie
        xcb.xcb_get_image.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint8,
            ctypes.c_uint32,
            ctypes.c_int16,
            ctypes.c_int16,
            ctypes.c_uint16,
            ctypes.c_uint16,
            ctypes.c_uint32,
        ]
        xcb.xcb_get_image_reply.restype = ctypes.c_void_p
        xcb.xcb_get_image_reply.argtypes = [ctypes.c_void_p, Cookie, ctypes.c_void_p]
        xcb.xcb_get_image_data.restype = ctypes.POINTER(ctypes.c_uint8)
        xcb.xcb_get_image_data.argtypes = [ctypes.c_void_p]
        xcb.xcb_setup_roots_iterator.restype = ctypes.c_void_p * 3  # (data, rem, index)
        xcb.xcb_setup_roots_iterator.argtypes = [ctypes.c_void_p]
        self.xcb = xcb
        self.conn = xcb.xcb_connect(display.encode(), None)
        it = xcb.xcb_setup_roots_iterator(xcb.xcb_get_setup(self.conn))
        self.root = ctypes.cast(it[0], ctypes.POINTER(ctypes.c_uint32))[0]  # xcb_screen_t.root is first
        self.x, self.y = x, y
        self.stop = threading.Event()
        self.edges: list[tuple[float, float]] = []  # (estimate, half-width) of every change of colour
        self.count = 0

    def read(self) -> int:
        cookie = self.xcb.xcb_get_image(self.conn, 2, self.root, self.x, self.y, 1, 1, 0xFFFFFFFF)
        reply = self.xcb.xcb_get_image_reply(self.conn, cookie, None)
        if not reply:
            return -1
        v = self.xcb.xcb_get_image_data(reply)[1]  # green byte of a BGRX pixel
        self.libc.free(reply)
        return v

    def run(self) -> None:
        last = prev_start = None
        while not self.stop.is_set():
            t0 = self.clock()
            level = 1 if self.read() > 127 else 0
            t1 = self.clock()
            self.count += 1
            if last is not None and level != last:
                # the server read the old colour after prev_start, the new one before t1
                self.edges.append(((prev_start + t1) / 2, (t1 - prev_start) / 2))
            last, prev_start = level, t0


def analyse(folder: Path, transitions: list | None) -> dict:
    from protocols.runlog import read_log

    frames = list(csv.DictReader(open(folder / STIMULUS_FRAMES_NAME)))
    log = read_log(folder)
    summaries = [r for r in log if r["record"] == "video_summary"]
    flips = json.loads((folder / "flips.json").read_text())
    markers = [r for r in log if r["record"] == "marker" and r["event"] in ("stimulus_onset", "stimulus_offset")]
    late = [float(r["late_ms"]) for r in frames if r["frame"] != "0"]
    out = {
        "clips": len(summaries),
        "frames_shown": sum(s["frames_shown"] for s in summaries),
        "frames_dropped": sum(s["dropped"] for s in summaries),
        "frame_late_ms": _stats(late),
        "flip_call_ms": _stats([(b - a) * 1000 for a, b, _ in flips]),
    }
    if transitions is not None:
        errs, res, merr, inside, unmatched = [], [], [], 0, 0
        mk = {round(r["lsl"], 9) for r in markers}
        edges = sorted(transitions)
        for t0, t1, _ in flips:
            near = [e for e in edges if -0.030 < t1 - e[0] < 0.030]
            if not near:
                unmatched += 1
                continue
            est, half = min(near, key=lambda e: abs(t1 - e[0]))
            err = (t1 - est) * 1000
            errs.append(err)
            res.append(half * 1000)
            inside += (est - half) <= t1 and (est + half) >= t0  # change seen within [repaint start, stamp]
            if round(t1, 9) in mk:
                merr.append(err)
        out.update(
            transitions_seen=len(transitions),
            flips=len(flips),
            flips_not_seen=unmatched,
            marker_error_ms=_stats(merr),
            flip_error_ms=_stats(errs),
            sensor_resolution_ms=_stats(res),
            change_within_flip_call=f"{inside}/{len(errs)}",
        )
    return out


def _stats(xs: list[float]) -> dict:
    if not xs:
        return {}
    s = sorted(xs)
    return {
        "n": len(s),
        "median": round(statistics.median(s), 3),
        "p95": round(s[int(0.95 * (len(s) - 1))], 3),
        "max": round(s[-1], 3),
        "min": round(s[0], 3),
        "mean_abs": round(sum(abs(x) for x in s) / len(s), 3),
    }


def run_platform(platform: str, clips: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"mexlab-timing-{platform}-"))
    env = dict(os.environ)
    xvfb = sensor = None
    if platform == "xvfb":
        xvfb = subprocess.Popen(
            ["Xvfb", ":99", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        env.update(DISPLAY=":99", QT_QPA_PLATFORM="xcb")
        sensor = Sensor(":99", 20, 700)
        sensor.start()
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    try:
        subprocess.run(
            [sys.executable, __file__, "--child", str(folder), "--clips", str(clips)], env=env, check=True, cwd=REPO
        )
    finally:
        if sensor is not None:
            sensor.stop.set()
            sensor.join(timeout=2)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=5)
    res = analyse(folder, sensor.edges if sensor else None)
    res["platform"], res["folder"] = platform, str(folder)
    if sensor is not None:
        res["sensor_reads"] = sensor.count
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platform", choices=["offscreen", "xvfb", "both"], default="both")
    ap.add_argument("--clips", type=int, default=2, help="demo clips of 8 s each (240 frames at 30 fps)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.clips)
        return 0
    plats = ["offscreen", "xvfb"] if args.platform == "both" else [args.platform]
    for p in plats:
        print(json.dumps(run_platform(p, args.clips), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
