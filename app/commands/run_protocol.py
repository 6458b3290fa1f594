"""``mexlab run-protocol``: run an elicitation protocol while recording everything ``mexlab record`` does,
plus the protocol's markers, the self-reports and the run log (see docs/protocols.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from acquisition.errors import MexlabError
from app.commands.record import add_source_arguments


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run-protocol",
        help="run an elicitation protocol and record the session",
        description="Run a protocol (a built-in NAME or a FILE.yaml) for one participant: the "
        "participant display full screen, the experimenter's control panel, and a "
        "recording like 'mexlab record' with every protocol event as an LSL marker.",
    )
    p.add_argument("protocol", metavar="NAME|FILE", help="built-in or user protocol name, or a protocol file")
    p.add_argument("--participant", required=True, metavar="ID", help="participant pseudonym (sets group and order)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the new session folder")
    add_source_arguments(p)
    p.add_argument(
        "--headless",
        action="store_true",
        help="offscreen display and simulated participant and experimenter (to check a protocol)",
    )
    p.add_argument("--quick", action="store_true", help="first trial of each block, every duration cut to <= 2 s")
    p.add_argument(
        "--screen",
        type=int,
        metavar="N",
        help="the participant's screen (0, 1, ...; default: the second screen when there are two)",
    )
    p.add_argument("--windowed", action="store_true", help="participant display in a window, not full screen")
    p.add_argument("--group", help="counterbalancing group to use instead of the one the participant ID gives")
    p.set_defaults(func=run)


def _qt_app(headless: bool):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        return app
    if headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        _quiet_offscreen()
    elif sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise MexlabError(
            "no display to show the participant screen on (DISPLAY is not set); "
            "run it on the lab computer's desktop, or use --headless to check a protocol"
        )
    return QApplication(["mexlab"])


def _quiet_offscreen() -> None:
    """The offscreen platform warns about window hints it ignores; keep every other message."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message):
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(handler)


def pick_screen(app, index: int | None):
    screens = app.screens()
    if index is None:
        return screens[1] if len(screens) > 1 else screens[0]
    if not 0 <= index < len(screens):
        have = "; ".join(
            f"{i} = '{s.name() or 'screen'}' {s.geometry().width()}x{s.geometry().height()}"
            for i, s in enumerate(screens)
        )
        raise MexlabError(
            f"--screen {index}: there is no such screen; this computer has {len(screens)} "
            f"screen{'s' if len(screens) != 1 else ''}: {have}"
        )
    return screens[index]


def _pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def run(args: argparse.Namespace) -> int:
    """The shared orchestration (app/protocol_session.ProtocolSession over app/recording.Recording),
    waited on with a blocking loop."""
    from PySide6.QtCore import QEventLoop

    from app.commands.record import config_from_args, print_summary
    from app.services.protocol_session import ProtocolSession, wait_first_frame
    from app.services.recording import Recording

    ps = ProtocolSession(
        args.protocol, args.participant, quick=args.quick, group=args.group, simulate=args.headless, seed=args.seed
    )
    app = _qt_app(args.headless)
    screen = pick_screen(app, args.screen)
    args.duration = None
    recording = Recording(ps.configure(config_from_args(args)))
    recording.prepare()
    rec = recording.recorder
    state = {"run": None}

    def on_signal(signum, frame):
        if state["run"] is not None and not state["run"].done:
            state["run"].abort("interrupted (Ctrl+C)" if signum == signal.SIGINT else "terminated (SIGTERM)")
        else:
            rec.request_stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        recording.start()
        try:
            wait_first_frame(rec)
        except MexlabError:
            recording.abandon()
            raise
        run = state["run"] = ps.begin(rec, screen, windowed=args.windowed, confirm_abort=not args.headless)
        print(f"running {ps.describe()}, recording to {rec.folder}", file=sys.stderr)
        loop = QEventLoop()
        run.finished.connect(loop.quit)
        run.start()
        if not run.done:
            loop.exec()
        _pump(app, 0.5)  # the video runs on a little after protocol_end
        meta = recording.stop(ps.finish())
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        ps.close()
    print_summary(rec, meta)
    proto = ps.proto
    dropped = sum(v["dropped"] for v in run.videos)
    print(
        f"  protocol {proto.name}: {run.state}, {run.engine.pushed} markers, {len(run.videos)} clips, "
        f"{dropped} stimulus frames dropped"
    )
    if run.state != "finished":
        at = (meta.get("aborted_at") or {}).get("text") or "aborted"
        print(
            f"mexlab run-protocol: error: the protocol was aborted ({run.engine.abort_reason}); what was recorded "
            f"is kept in {rec.folder}, closed and marked '{meta.get('status')}' ({at})",
            file=sys.stderr,
        )
        return 1
    if recording.errors:
        print(f"mexlab run-protocol: error: {recording.errors[0]}", file=sys.stderr)
        return 1
    return 0
