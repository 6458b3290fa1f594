"""Keyboard shortcuts are data (after SLEAP): action id -> key sequence. Users may override them in
settings.json under "shortcuts"."""

from __future__ import annotations

SHORTCUTS: dict[str, str] = {
    "workspace.sessions": "Ctrl+1",
    "workspace.record": "Ctrl+2",
    "workspace.analyze": "Ctrl+3",
    "workspace.annotate": "Ctrl+4",
    "record.preflight": "Ctrl+P",
    "record.start": "Ctrl+R",
    "record.stop": "Ctrl+.",
    "record.mark": "Ctrl+M",
    "sessions.refresh": "F5",
    "sessions.recheck": "Ctrl+K",
    "sessions.open_folder": "Ctrl+O",
    "app.quit": "Ctrl+Q",
}


def shortcut(action_id: str) -> str:
    return SHORTCUTS.get(action_id, "")
