"""Long work off the GUI thread: run a function in Qt's thread pool, get its result as a signal."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self.setAutoDelete(True)

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

    @staticmethod
    def _emit(signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the window was closed while the job ran: nobody is listening
            pass


_KEEP: set = set()


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
    QThreadPool.globalInstance().start(job)
    return job
