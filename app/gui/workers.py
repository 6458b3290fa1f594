"""Long work off the GUI thread: run a function in a Python thread, get its result as a signal.

The worker is a ``threading.Thread``, not a thread of Qt's pool. Work here calls into pybind11
extensions (pyrealsense2 when a recording starts or stops, mediapipe, torch); in a thread that Qt
created, such a call could take the GIL a second time under a thread state of its own while the
thread already held it, and the whole process stopped for good (seen in CI and reproduced: the
recording's start thread waiting in ``take_gil`` as the GIL's last holder, every other thread
waiting on it). A thread Python created has the one thread state those extensions look up.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Job:
    def __init__(self, fn: Callable[[], Any]):
        self.fn = fn
        self.signals = _Signals()  # made in the GUI thread: its slots run there
        self.thread = threading.Thread(target=self.run, name="mexlab-gui-job", daemon=True)

    def run(self) -> None:
        from acquisition.errors import MexlabError

        try:
            result = self.fn()
        except MexlabError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, with the details logged
            traceback.print_exc()
            self._emit(self.signals.failed, f"unexpected error: {exc!r}")
        else:
            self._emit(self.signals.done, result)
        finally:
            _RUNNING.discard(self)

    @staticmethod
    def _emit(signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the window was closed while the job ran: nobody is listening
            pass


_KEEP: set = set()
_RUNNING: set = set()


def run_in_thread(
    fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None, on_failed: Callable[[str], None] | None = None
) -> _Job:
    """Run ``fn`` in a worker thread; ``on_done(result)`` / ``on_failed(message)`` run on the GUI thread."""
    job = _Job(fn)
    sig = job.signals
    _KEEP.add(sig)
    if on_done:
        sig.done.connect(on_done)
    if on_failed:
        sig.failed.connect(on_failed)
    sig.done.connect(lambda *_: _KEEP.discard(sig))
    sig.failed.connect(lambda *_: _KEEP.discard(sig))
    _RUNNING.add(job)
    job.thread.start()
    return job


def wait_for_jobs(timeout: float) -> bool:
    """Wait up to ``timeout`` s for the running jobs (a stop, a check) to finish; True if all did."""
    import time

    end = time.monotonic() + timeout
    for job in list(_RUNNING):
        job.thread.join(max(0.0, end - time.monotonic()))
    return not _RUNNING
