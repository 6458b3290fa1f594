"""One clock for everything: the LSL clock (``pylsl.local_clock()``, seconds).

Cameras in the global/system time domain stamp frames with host wall-clock milliseconds
(``time.time()`` × 1000). :class:`WallToLsl` maps such stamps onto the LSL clock by the offset
``time.time() - local_clock()``, estimated from the tightest of several back-to-back readings and
re-estimated on demand (the wall clock can be slewed by NTP; the LSL clock cannot).
"""

from __future__ import annotations

import threading
import time

import pylsl


def measure_wall_offset(tries: int = 15) -> tuple[float, float]:
    """Return (offset, uncertainty) with ``offset = wall - lsl`` in seconds.

    Each try reads lsl, wall, lsl; the try with the smallest lsl gap bounds the wall reading best.
    """
    best = None
    for _ in range(tries):
        a = pylsl.local_clock()
        w = time.time()
        b = pylsl.local_clock()
        gap = b - a
        if best is None or gap < best[1]:
            best = (w - (a + b) / 2.0, gap)
    assert best is not None
    return best


class WallToLsl:
    """Thread-safe mapping of wall-clock milliseconds to LSL seconds."""

    def __init__(self, refresh_s: float = 5.0):
        self._lock = threading.Lock()
        self._refresh_s = refresh_s
        self._offset, self.uncertainty = measure_wall_offset()
        self._measured_at = pylsl.local_clock()

    def refresh(self) -> None:
        offset, unc = measure_wall_offset()
        with self._lock:
            self._offset, self.uncertainty = offset, unc
            self._measured_at = pylsl.local_clock()

    @property
    def offset(self) -> float:
        if pylsl.local_clock() - self._measured_at > self._refresh_s:
            self.refresh()
        with self._lock:
            return self._offset

    def to_lsl(self, wall_ms: float) -> float:
        return wall_ms / 1000.0 - self.offset

    def to_wall_ms(self, lsl_s: float) -> float:
        return (lsl_s + self.offset) * 1000.0
