"""The desktop application's stderr without the native libraries' start-up chatter.

MediaPipe and TensorFlow Lite write glog lines straight to file descriptor 2 from C++ when the face
model starts ("WARNING: Logging before InitGoogle() is written to STDERR", "W0000 … Sets
FaceBlendshapesGraph acceleration to xnnpack by default", "INFO: Created TensorFlow Lite XNNPACK
delegate for CPU", "Feedback manager requires a model with a single signature …"), bypassing Python
and every logging switch; Qt adds platform notes such as "This plugin does not support
propagateSizeHints()". In the GUI the model starts while other threads run, so the command-line
tools' trick (:func:`analysis.face.landmarker.quiet_native_start`: stderr pointed at /dev/null while
the model starts) would also swallow their messages.

:func:`filtered_stderr` instead passes fd 2 through a pipe and a reader thread that drops only the
lines matching :data:`NOISE` and copies every other byte, in order, to the real stderr: Python
tracebacks, warnings, glog errors (``E…``/``F…`` lines) and anything else still show. A crash dump
(faulthandler) goes straight to the real stderr, since a crash stops the reader thread.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import sys
import threading

#: whole lines that are start-up chatter, never a problem to act on
NOISE = re.compile(
    rb"^(?:WARNING: Logging before InitGoogle\(\) is written to STDERR"
    rb"|[WI]\d{4} [\d:. ]+\d+ [\w./-]+\.cc:\d+\] .*"  # glog warning/info lines (not E/F)
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb"|This plugin does not support propagateSizeHints\(\)"
    rb")\r?$"
)


def is_noise(line: bytes) -> bool:
    return NOISE.match(line.rstrip(b"\n")) is not None


class _Filter:
    def __init__(self) -> None:
        sys.stderr.flush()
        self.real = os.dup(2)
        r, w = os.pipe()
        self.read_end = r
        os.dup2(w, 2)
        os.close(w)
        self.thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self.thread.start()
        self.fault_file = None
        if faulthandler.is_enabled():
            self.fault_file = os.fdopen(os.dup(self.real), "w")
            faulthandler.enable(self.fault_file)

    def _write(self, data: bytes) -> None:
        while data:
            n = os.write(self.real, data)
            data = data[n:]

    def _pump(self) -> None:
        pending = b""
        try:
            while True:
                chunk = os.read(self.read_end, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out = b"".join(ln + b"\n" for ln in lines if not is_noise(ln))
                if out:
                    self._write(out)
            if pending and not is_noise(pending):
                self._write(pending)
        except Exception:  # noqa: BLE001 - never leave writers blocked on a pipe nobody reads
            with contextlib.suppress(OSError):
                self._write(pending)
                while chunk := os.read(self.read_end, 65536):
                    self._write(chunk)
        finally:
            os.close(self.read_end)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self.real, 2)  # the pipe's last write end closes: the reader drains and ends
        self.thread.join(timeout=5)
        if self.fault_file is not None:
            faulthandler.enable(sys.stderr)
            self.fault_file.close()
        os.close(self.real)


@contextlib.contextmanager
def filtered_stderr():
    """Within this block, fd 2 (C++ and Python alike) reaches the real stderr without :data:`NOISE`."""
    try:
        f = _Filter()
    except OSError:  # no usable fd 2 (e.g. closed): nothing to filter
        yield
        return
    try:
        yield
    finally:
        f.close()
