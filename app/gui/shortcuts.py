"""Keyboard shortcuts are data (after SLEAP): action id -> key sequence.

:data:`SHORTCUTS` holds the defaults. A user's own keys live in the settings file
(``settings.json``, ``"shortcuts": {action id: keys}``), set with ``mexlab shortcuts set ACTION
KEYS`` or by editing the file; :func:`shortcut` and :func:`shortcuts` return the keys in force
(the user's over the defaults; an unknown action id or a key sequence Qt cannot read in the file
is left out, and :func:`problems` names it). Keys in force are read when a window or workspace is
made, so a change applies from the next start.
"""

from __future__ import annotations

from app.settings import Settings

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


def normalize(keys: str) -> str | None:
    """Qt's spelling of ``keys`` ("ctrl+u" -> "Ctrl+U"), "" for no key, None when Qt cannot read it."""
    from PySide6.QtGui import QKeySequence

    keys = keys.strip()
    if not keys:
        return ""
    text = QKeySequence(keys).toString()
    return text or None


def _user() -> dict[str, str]:
    raw = Settings.load().shortcuts
    return raw if isinstance(raw, dict) else {}


def in_force() -> dict[str, str]:
    """Every action id with the keys in force (the user's valid overrides over the defaults)."""
    out = dict(SHORTCUTS)
    for aid, keys in _user().items():
        if aid in SHORTCUTS and isinstance(keys, str) and normalize(keys) is not None:
            out[aid] = normalize(keys)
    return out


def problems() -> list[str]:
    """What is wrong with the user's shortcuts: unknown actions, unreadable keys, keys used twice."""
    out = []
    for aid, keys in _user().items():
        if aid not in SHORTCUTS:
            out.append(f"{Settings.path()}: shortcuts: unknown action {aid!r} (ignored)")
        elif not isinstance(keys, str) or normalize(keys) is None:
            out.append(f"{Settings.path()}: shortcuts: {aid}: {keys!r} is not a key sequence (default kept)")
    users: dict[str, list[str]] = {}
    for aid, keys in in_force().items():
        if keys:
            users.setdefault(keys, []).append(aid)
    out += [f"{keys} is used by {' and '.join(aids)}" for keys, aids in users.items() if len(aids) > 1]
    return out


def set_user(action_id: str, keys: str | None) -> str | None:
    """Store ``keys`` for ``action_id`` in the settings (None: back to the default); returns the
    keys now in force. ValueError names an unknown action or keys Qt cannot read."""
    if action_id not in SHORTCUTS:
        raise ValueError(f"unknown action {action_id!r} (see `mexlab shortcuts list`)")
    settings = Settings.load()
    mine = dict(settings.shortcuts) if isinstance(settings.shortcuts, dict) else {}
    if keys is None:
        mine.pop(action_id, None)
    else:
        norm = normalize(keys)
        if norm is None:
            raise ValueError(f"{keys!r} is not a key sequence Qt can read (e.g. Ctrl+Shift+S, F6, U)")
        mine[action_id] = norm
    settings.shortcuts = mine
    settings.save()
    return in_force()[action_id]


def reset_all() -> None:
    """Forget every key of the user's (unknown actions included): the defaults are in force."""
    settings = Settings.load()
    settings.shortcuts = {}
    settings.save()


def shortcut(action_id: str) -> str:
    return in_force().get(action_id, "")


def shortcuts(prefix: str) -> dict[str, str]:
    """The shortcuts in force whose action id starts with ``prefix`` (e.g. ``"annotate."``)."""
    return {k: v for k, v in in_force().items() if k.startswith(prefix)}
