"""Frame step and random seek of the annotation video reader on a recorded 848x480 FFV1 session
(RGB + depth colour-mapped, as the Annotate workspace shows them). Goal: step <= 16 ms, random seek
<= 50 ms.

* step: the arrow key held (one frame every 33 ms, key auto-repeat): read-ahead has the next frame
  decoded by the time it is asked for;
* step, back-to-back: no pause at all between steps (the worst case: read-ahead competes with the
  caller);
* random seek: cache emptied, a frame anywhere, 1/4 s after the previous one;
* playback at 1x in the real workspace (Qt offscreen, both videos drawn): how far the video moved
  in a wall-clock second (1.00 = real time), and how many frames were drawn or skipped. Before
  (one frame per 33-ms timer tick, the frame drawn late when the tick ran late) and now (the frame
  of the wall clock, :class:`analysis.annotation.workspace_model.PlayClock`).

Prints the machine load (``os.getloadavg()``) before and after: the figures are only comparable on
a quiet machine.

usage: python bench/annotation_seek.py SESSION_DIR   (make one: mexlab record --simulate --duration 8 --out DIR --no-catalog)
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acquisition.session_read.frame_reader import FrameReader
from acquisition.session_read.names import DEPTH_NAME, RGB_NAME  # noqa: E402
from analysis.annotation.video_reader import colorize_depth  # noqa: E402


def q(v, p):
    return sorted(v)[int(p * (len(v) - 1))]


def playback(folder: str, seconds: float = 6.0) -> list[tuple[str, float, int, int]]:
    """``(how, video seconds per wall second, frames drawn, frames skipped)`` for the clock-driven
    playback and for the old one-frame-per-tick timer, in the real AnnotateWorkspace."""
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.workspaces.annotate import AnnotateWorkspace

    app = QApplication.instance() or QApplication([])
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = AnnotateWorkspace(f"sqlite:///{tmp}/b.sqlite", coder="bench", journal_dir=tmp)
        ws.resize(1400, 900)
        ws.show()
        ws.open_session(folder)
        fps = ws.clip.fps
        seconds = min(seconds, (ws.rgb.n_frames - 2) / fps - 0.5)

        def run(start_play, stop_play, stats):
            ws.seek(0)
            app.processEvents()
            t0 = time.perf_counter()
            start_play()
            while time.perf_counter() - t0 < seconds:
                app.processEvents()
                time.sleep(0.001)
            stop_play()
            return ws.frame / fps / (time.perf_counter() - t0), *stats()

        ws.speed.setCurrentIndex(3)  # 1x
        out.append(
            ("now: frame of the wall clock",)
            + run(ws.toggle_play, ws.toggle_play, lambda: (ws.playback.stats["shown"], ws.playback.stats["skipped"]))
        )
        shown = [0]

        def tick():  # the old playback: one frame per timer tick
            ws.show_frame(ws.frame + 1)
            shown[0] += 1

        old = QTimer(timeout=tick)
        out.append(
            ("before: one frame per tick",) + run(lambda: old.start(int(1000 / fps)), old.stop, lambda: (shown[0], 0))
        )
        ws.close_session()
        ws.store.close()
    return out


def main(folder: str) -> None:
    load0 = os.getloadavg()
    rgb = FrameReader(Path(folder) / RGB_NAME)
    depth = FrameReader(Path(folder) / DEPTH_NAME, "gray16le", convert=colorize_depth)
    n = min(rgb.n_frames, depth.n_frames)

    def both(i):  # as the workspace does
        rgb.frame(i, ahead=False)
        depth.frame(i, ahead=False)
        rgb.prefetch(i), depth.prefetch(i)

    def steps(first, count, gap_s):
        both(first)
        out = []
        for i in range(first + 1, min(n, first + count)):
            time.sleep(gap_s)
            t = time.perf_counter()
            both(i)
            out.append((time.perf_counter() - t) * 1000)
        return out

    held = steps(0, 120, 0.033)
    tight = steps(120, 100, 0.0) if n > 140 else steps(0, 100, 0.0)
    rnd = random.Random(1)
    seeks = []
    for _ in range(60):
        i = rnd.randrange(n)
        time.sleep(0.25)  # a click every 1/4 s at most
        with rgb._clk, depth._clk:
            rgb._cache.clear(), depth._cache.clear()
        t = time.perf_counter()
        both(i)
        seeks.append((time.perf_counter() - t) * 1000)
    rgb.close(), depth.close()
    load1 = os.getloadavg()
    play = playback(folder)
    print(f"{rgb.width}x{rgb.height} RGB + depth, {n} frames, {os.cpu_count()} CPUs")
    for name, v in (("step, key held (33 ms)", held), ("step, back-to-back", tight), ("random seek", seeks)):
        print(f"{name:24s} median {statistics.median(v):5.1f} ms, p95 {q(v, 0.95):5.1f} ms, max {max(v):5.1f} ms")
    for how, rate, shown, skipped in play:
        print(f"playback 1x, {how:30s} {rate:5.2f} video s per wall s, {shown} frames drawn, {skipped} skipped")
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load0)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load1)
    )


if __name__ == "__main__":
    main(sys.argv[1])
