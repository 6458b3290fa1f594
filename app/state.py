"""Evented state (after napari): plain Python objects whose changes are announced to listeners.

The GUI is a view of these models: widgets read them and connect to their events; commands change
them. Nothing here imports Qt, so the same state drives tests without a display.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


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

    FIELDS: dict[str, Any] = {}

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

    FIELDS = {
        "phase": "idle",          # idle | preflight | recording | stopping
        "preflight": None,        # PreflightReport
        "snapshot": None,         # Recorder.snapshot() while recording
        "folder": None,           # the session folder being recorded
        "message": "",            # a line for the status bar
        "error": None,            # last error text
        "last_session": None,     # final sidecar of the last recording
    }


class SessionsState(EventedModel):
    FIELDS = {
        "rows": list,             # Catalog.list_sessions() rows
        "search": "",
        "status_filter": None,
        "selected": None,         # session_id
        "message": "",
    }
