"""What a flag may ask for: numbers that are finite and inside the range a lab can mean, refused
with a message naming the flag beyond it (a duration of 1e12 s, a wait of -5 s, a threshold of nan
used to hang or pass silently)."""

from __future__ import annotations

import math

from acquisition.errors import MexlabError

MAX_SESSION_S = 24 * 3600.0  # one recording, one simulated rig run
MAX_WAIT_S = 3600.0  # waiting for a device or a stream


def seconds(value: float | None, flag: str, *, maximum: float, zero: bool = False, who: str = "mexlab") -> float | None:
    """``value`` (None stays None) when it is a finite number of seconds in (0, maximum]
    (``zero``: [0, maximum])."""
    if value is None:
        return None
    low_ok = value >= 0 if zero else value > 0
    if not math.isfinite(value) or not low_ok:
        need = "zero or more" if zero else "a positive, finite number of"
        raise MexlabError(f"{flag} {value:g}: must be {need} seconds")
    if value > maximum:
        raise MexlabError(f"{flag} {value:g}: more than the {_span(maximum)} {who} allows; give at most {maximum:g} s")
    return float(value)


def number(value: float | None, flag: str, low: float, high: float) -> float | None:
    """``value`` (None stays None) when it is finite and within [low, high]."""
    if value is None:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        raise MexlabError(f"{flag} {value:g}: must be a number from {low:g} to {high:g}")
    return float(value)


def _span(s: float) -> str:
    return f"{s / 3600:g} h" if s >= 3600 else f"{s:g} s"
