"""``mexlab gui [--simulate]`` (and ``mexlab`` with no arguments): the desktop application."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="start the desktop application")
    p.add_argument("--simulate", action="store_true", help="record from the simulated participant rig")
    p.add_argument("--quit-after", type=float, metavar="S", help=argparse_hide())
    p.add_argument("--screenshot", metavar="PNG", help=argparse_hide())
    p.set_defaults(func=run)


def argparse_hide():
    import argparse

    return argparse.SUPPRESS


def run(args) -> int:
    import os

    from acquisition.errors import MexlabError

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise MexlabError(
            "no display to show the window on (DISPLAY is not set): start mexlab from a desktop "
            "session, or under a virtual screen with `xvfb-run mexlab gui`"
        )
    from app.gui.stderr_noise import filtered_stderr

    # MediaPipe/TFLite/Qt start-up chatter off the terminal; every other line still shows
    with filtered_stderr():
        return _run_window(args)


def _run_window(args) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.services.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mexlab")
    # Python's cyclic garbage collection only in the GUI thread (on a timer): a collection that ran in
    # a worker thread and freed a window's Qt objects there deadlocked against the GUI thread
    # (Qt's object locks vs the GIL; seen in CI, docs/architecture.md "Threads")
    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=1.0)  # noqa: F841 - kept alive while the window runs
    settings = Settings.load()
    simulate = bool(getattr(args, "simulate", False))
    win = MainWindow(settings, simulate=simulate)
    if not simulate and settings.source == "live":
        from acquisition.lsl_streams import list_streams
        from acquisition.realsense.devices import list_devices

        try:
            cams = list_devices()
        except Exception:  # noqa: BLE001
            cams = []
        if not cams and not list_streams(wait=0.5):
            win.settings.source = "simulate"
            win.record.source.setCurrentIndex(0)
            win.say("No RealSense camera and no LSL streams were found: the simulated participant rig is selected.")
    if simulate or win.settings.source == "simulate":
        win.say("Source: the simulated participant rig (a synthetic face, depth, EMG, ECG and EDA; no hardware).")
    win.show()
    if getattr(args, "screenshot", None):
        QTimer.singleShot(1500, lambda: win.grab().save(args.screenshot))
    if getattr(args, "quit_after", None):
        QTimer.singleShot(int(args.quit_after * 1000), win.close)
    return app.exec()
