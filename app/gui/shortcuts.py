"""Keyboard shortcuts are data (after SLEAP): action id -> key sequence.

:data:`SHORTCUTS` holds the defaults. A user's own keys live in the settings file
(``settings.json``, ``"shortcuts": {action id: keys}``), set with ``mexlab shortcuts set ACTION
KEYS`` or by editing the file; :func:`shortcut` and :func:`shortcuts` return the keys in force
(the user's over the defaults; an unknown action id or a key sequence Qt cannot read in the file
is left out, and :func:`problems` names it). Keys in force are read when a window or workspace is
made, so a change applies from the next start.
"""

from __future__ import annotations

from app.services.settings import Settings

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
    "app.help": "F1",
    "app.help_alt": "?",
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
    "annotate.cancel": "Escape",
}

#: what each action does, in the words the help overlay (F1, ?) shows
DESCRIPTIONS: dict[str, str] = {
    "workspace.sessions": "show the Sessions workspace",
    "workspace.record": "show the Record workspace",
    "workspace.analyze": "show the Analyze workspace",
    "workspace.annotate": "show the Annotate workspace",
    "record.preflight": "run the pre-flight check",
    "record.start": "start recording",
    "record.stop": "stop recording",
    "record.mark": "put a marker in the recording",
    "sessions.refresh": "refresh the session list",
    "sessions.recheck": "re-check the selected session",
    "sessions.open_folder": "open the selected session's folder",
    "app.quit": "quit mexlab",
    "app.help": "show or hide this list of keys",
    "app.help_alt": "show or hide this list of keys",
    "annotate.step_forward": "next frame",
    "annotate.step_back": "previous frame",
    "annotate.step_forward_10": "ten frames forward",
    "annotate.step_back_10": "ten frames back",
    "annotate.play": "play / pause (1x is real time)",
    "annotate.onset": "onset here: of the new event, or of the selected event when the frame is inside it",
    "annotate.apex": "apex here: of the new event, or of the selected event when the frame is inside it",
    "annotate.offset": "offset here: stores the new event once it has an onset (any order)",
    "annotate.accept": "accept the selected event (or candidate)",
    "annotate.reject": "reject the selected event (or candidate)",
    "annotate.delete": "delete the selected event",
    "annotate.undo": "undo (first the marks of the event being coded)",
    "annotate.redo": "redo",
    "annotate.redo_alt": "redo",
    "annotate.goto": "go to a frame (123) or a time (4.5s)",
    "annotate.cancel": "drop the event being coded, else clear the selection",
}

GROUPS = {
    "workspace": "Workspaces",
    "record": "Record",
    "sessions": "Sessions",
    "app": "Application",
    "annotate": "Annotate (while the workspace has the focus)",
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
            shown = keys if not isinstance(keys, str) or len(keys) <= 40 else f"{keys[:40]}… ({len(keys)} characters)"
            out.append(f"{Settings.path()}: shortcuts: {aid}: {shown!r} is not a key sequence (default kept)")
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
            shown = keys if len(keys) <= 40 else f"{keys[:40]}… ({len(keys)} characters)"
            raise ValueError(f"{shown!r} is not a key sequence Qt can read (e.g. Ctrl+Shift+S, F6, U)")
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


def help_rows() -> list[tuple[str, str, str]]:
    """``(group, keys in force, what it does)`` for every action, in :data:`SHORTCUTS` order: what
    the help overlay shows, so it always says the keys the user has set."""
    keys = in_force()
    return [
        (GROUPS.get(aid.split(".", 1)[0], aid.split(".", 1)[0]), keys[aid] or "(none)", DESCRIPTIONS.get(aid, aid))
        for aid in SHORTCUTS
    ]


def shortcuts(prefix: str) -> dict[str, str]:
    """The shortcuts in force whose action id starts with ``prefix`` (e.g. ``"annotate."``)."""
    return {k: v for k, v in in_force().items() if k.startswith(prefix)}
