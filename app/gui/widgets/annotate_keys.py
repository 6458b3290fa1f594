"""The Annotate workspace's keys, from data (:mod:`app.gui.shortcuts`, ``annotate.*``, the user's own
keys included): one QShortcut per action while the workspace has the focus, and the same map for
key presses sent straight to the workspace (:func:`key_action`), where the window's help keys
(F1, ?) toggle the overlay too."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QKeyCombination, Qt
from PySide6.QtGui import QKeySequence, QShortcut

from app.gui.shortcuts import shortcut, shortcuts


def install_keys(widget, actions: dict[str, Callable[[], None]], help_toggle: Callable[[], None]) -> dict:
    """Shortcuts on ``widget`` for ``actions`` (name after ``annotate.`` -> function); returns the
    key map (key sequence text -> function) for :func:`key_action`."""
    keymap: dict[str, Callable[[], None]] = {}
    for aid in ("app.help", "app.help_alt"):  # the window's keys (F1, ?): here only for key presses
        seq = QKeySequence(shortcut(aid))  # sent straight to the workspace (no QShortcut: the
        if not seq.isEmpty():  # main window's action would make it ambiguous)
            keymap[seq.toString()] = help_toggle
    for aid, keys in shortcuts("annotate.").items():
        fn = actions.get(aid.split(".", 1)[1])
        seq = QKeySequence(keys)
        if fn is None or seq.isEmpty():
            continue
        keymap[seq.toString()] = fn
        s = QShortcut(seq, widget, activated=fn)
        s.setContext(Qt.WidgetWithChildrenShortcut)
    return keymap


def key_action(keymap: dict, ev) -> Callable[[], None] | None:
    """The function a key press maps to ("?" is also found as Shift+/), or None."""
    mods = ev.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier | Qt.AltModifier)
    fn = keymap.get(QKeySequence(QKeyCombination(mods, Qt.Key(ev.key()))).toString())
    if fn is None and mods & Qt.ShiftModifier:  # "?" is Shift+/ on many keyboards
        fn = keymap.get(QKeySequence(QKeyCombination(mods & ~Qt.ShiftModifier, Qt.Key(ev.key()))).toString())
    return fn
