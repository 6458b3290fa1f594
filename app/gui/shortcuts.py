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
    # Annotate workspace (active while it has the focus; typing in a text field takes precedence)
    "annotate.step_forward": "Right",
    "annotate.step_back": "Left",
    "annotate.step_forward_10": "Shift+Right",
    "annotate.step_back_10": "Shift+Left",
    "annotate.play": "Space",
    "annotate.onset": "I",
    "annotate.apex": "P",
    "annotate.offset": "O",
    "annotate.accept": "A",
    "annotate.reject": "R",
    "annotate.delete": "Delete",
    "annotate.undo": "Ctrl+Z",
    "annotate.redo": "Ctrl+Shift+Z",
    "annotate.redo_alt": "Ctrl+Y",
    "annotate.goto": "Ctrl+G",
}


def shortcut(action_id: str) -> str:
    return SHORTCUTS.get(action_id, "")


def shortcuts(prefix: str) -> dict[str, str]:
    """The shortcuts whose action id starts with ``prefix`` (e.g. ``"annotate."``)."""
    return {k: v for k, v in SHORTCUTS.items() if k.startswith(prefix)}
