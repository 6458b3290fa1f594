"""Evented state (after napari): plain Python objects whose changes are announced to listeners.

The GUI is a view of these models: widgets read them and connect to their events; commands change
them. Nothing here imports Qt, so the same state drives tests without a display.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from acquisition.session_read.names import MARKER_STREAM


class Event:
    """A list of callbacks, called with the new value."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Any], None]] = []
        self._lock = threading.Lock()

    def connect(self, cb: Callable[[Any], None]) -> Callable[[Any], None]:
        with self._lock:
            self._callbacks.append(cb)
        return cb

    def disconnect(self, cb: Callable[[Any], None]) -> None:
        with self._lock:
            if cb in self._callbacks:
                self._callbacks.remove(cb)

    def emit(self, value: Any = None) -> None:
        with self._lock:
            cbs = list(self._callbacks)
        for cb in cbs:
            cb(value)


class Events:
    def __init__(self, names):
        for n in names:
            setattr(self, n, Event())


class EventedModel:
    """Attributes listed in ``FIELDS`` emit ``events.<name>`` with the new value when they change."""

    FIELDS: ClassVar[dict[str, Any]] = {}

    def __init__(self, **values):
        object.__setattr__(self, "events", Events(self.FIELDS))
        for name, default in self.FIELDS.items():
            object.__setattr__(self, name, values.pop(name, default() if callable(default) else default))
        if values:
            raise TypeError(f"unknown fields: {', '.join(values)}")

    def __setattr__(self, name, value):
        if name in self.FIELDS:
            old = getattr(self, name)
            object.__setattr__(self, name, value)
            if old is not value and old != value:
                getattr(self.events, name).emit(value)
        else:
            object.__setattr__(self, name, value)


class RecordState(EventedModel):
    """What the Record workspace shows."""

    FIELDS: ClassVar[dict[str, Any]] = {
        "phase": "idle",  # idle | preflight | recording | stopping
        "preflight": None,  # PreflightReport
        "snapshot": None,  # Recorder.snapshot() while recording
        "folder": None,  # the session folder being recorded
        "message": "",  # a line for the status bar
        "error": None,  # last error text
        "last_session": None,  # final sidecar of the last recording
    }


SESSION_COLUMNS = (
    "started",
    "participant",
    "protocol",
    "status",
    "health",
    "duration",
    "streams",
    "drops",
    "size",
    "folder",
)
STATUS_FILTERS = ("complete", "aborted", "interrupted", "recording")
HEALTH_FILTERS = ("ok", "warning", "bad")
STATUS_COLOURS = {"complete": "#2a7", "aborted": "#d90", "interrupted": "#d33", "recording": "#d90", "unknown": "#888"}
NOT_CHECKED = "#888"


def status_colour(row: dict) -> str:
    """Green only for a complete session whose health is ok: the status never looks better than the
    check (a complete session with 9 % of its frames dropped is red)."""
    from acquisition.health import COLOURS as HEALTH_COLOURS

    verdict = (row.get("health") or {}).get("verdict")
    if row.get("status") == "complete":
        return HEALTH_COLOURS.get(verdict, NOT_CHECKED)
    return STATUS_COLOURS.get(row.get("status"), "#888")


def format_duration(s) -> str:
    if s is None:
        return "-"
    s = float(s)
    return f"{int(s // 60)}:{s % 60:04.1f}"


def format_size(b) -> str:
    b = float(b or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if b < 1000 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000.0
    return f"{b:.1f} GB"


def is_own_stream(name: str) -> bool:
    """mexlab's own bookkeeping streams (markers, frame indices) are in every session: not listed."""
    return name == MARKER_STREAM or (name.startswith("mexlab-") and name.endswith("-frames"))


def session_cells(r: dict) -> list[tuple[str, str | None, str | None]]:
    """A catalog row as the Sessions list shows it: ``(text, colour, tooltip)`` per column of
    :data:`SESSION_COLUMNS` (colour and tooltip None where the cell has none)."""
    from acquisition.catalog.format import format_health_cell, format_status
    from acquisition.health import COLOURS as HEALTH_COLOURS

    drops = (r.get("dropped_frames") or 0) + (r.get("dropped_samples") or 0)
    health = r.get("health") or {}
    health_tip = "\n".join(health.get("reasons") or []) or (
        "no problems found" if health else "not checked since the catalog had health: Re-check"
    )
    return [
        (str(r.get("started_at") or "")[:19].replace("T", " "), None, None),
        (r.get("participant") or "-", None, None),
        (r.get("protocol") or "-", None, None),
        (format_status(r), status_colour(r), r.get("status_detail") or None),
        (format_health_cell(r, width=60), HEALTH_COLOURS.get(health.get("verdict"), NOT_CHECKED), health_tip),
        (format_duration(r.get("duration_s")), None, None),
        (", ".join(x for x in (r.get("streams") or []) if not is_own_stream(x)), None, None),
        (str(drops), "#d33" if drops else None, None),
        (format_size(r.get("disk_bytes")), None, None),
        (str(r["folder"]), None, None),
    ]


class SessionsState(EventedModel):
    """The Sessions list without Qt: the catalog rows, the filters (search text; a status or
    ``health:<verdict>``; a participant) and the selected session. The workspace writes the filters
    and the selection here and shows :meth:`visible`; tests drive it without a display."""

    FIELDS: ClassVar[dict[str, Any]] = {
        "rows": list,  # Catalog.list_sessions() rows
        "search": "",  # in participant, protocol, folder, session id and stream names
        "status_filter": None,  # None, a status, or "health:ok|warning|bad"
        "participant": None,  # None: all participants
        "selected": None,  # session_id
    }

    def set_rows(self, rows: list[dict]) -> None:
        """New catalog rows; the participant filter and the selection stay when still there."""
        self.rows = list(rows)
        if self.participant is not None and not any(r.get("participant") == self.participant for r in self.rows):
            self.participant = None
        if self.selected is not None and self.selected_row() is None:
            self.selected = None

    def matches(self, r: dict) -> bool:
        st, q = self.status_filter, self.search.strip().lower()
        if st and st.startswith("health:"):
            if (r.get("health") or {}).get("verdict") != st.split(":", 1)[1]:
                return False
        elif st and r.get("status") != st:
            return False
        if self.participant and r.get("participant") != self.participant:
            return False
        hay = " ".join(str(r.get(k) or "") for k in ("participant", "protocol", "folder", "session_id")).lower()
        hay += " " + " ".join(r.get("streams") or []).lower()
        return not q or q in hay

    def visible(self) -> list[dict]:
        """The rows the filters let through, in catalog order."""
        return [r for r in self.rows if self.matches(r)]

    def participants(self) -> list[tuple[str, int]]:
        """(participant, number of sessions), by name: the participant filter's choices."""
        names = sorted({r.get("participant") for r in self.rows if r.get("participant")})
        return [(p, sum(1 for r in self.rows if r.get("participant") == p)) for p in names]

    def summary(self) -> str:
        """``12 session(s), 1 interrupted, 2 aborted, 1 bad``."""
        rows = self.rows
        n_int = sum(1 for r in rows if r.get("status") == "interrupted")
        n_abort = sum(1 for r in rows if r.get("status") == "aborted")
        n_bad = sum(1 for r in rows if (r.get("health") or {}).get("verdict") == "bad")
        return (
            f"{len(rows)} session(s)"
            + (f", {n_int} interrupted" if n_int else "")
            + (f", {n_abort} aborted" if n_abort else "")
            + (f", {n_bad} bad" if n_bad else "")
        )

    def select(self, session_id: str | None) -> bool:
        """Select a session of the rows (None clears); False when there is no such session."""
        if session_id is not None and not any(r["session_id"] == session_id for r in self.rows):
            return False
        self.selected = session_id
        return True

    def selected_row(self) -> dict | None:
        return next((r for r in self.rows if r["session_id"] == self.selected), None) if self.selected else None
