"""The keys, shown over the window (F1 or ?): generated from :func:`app.gui.shortcuts.help_rows`, so
it lists the keys in force (a user's own keys included). Any key or click closes it."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.gui.shortcuts import help_rows


def help_html(rows=None) -> str:
    rows = help_rows() if rows is None else rows
    out, group = ["<table cellspacing='0' cellpadding='3'>"], None
    for g, keys, text in rows:
        if g != group:
            out.append(f"<tr><td colspan='2'><br><b>{html.escape(g)}</b></td></tr>")
            group = g
        out.append(
            f"<tr><td align='right' style='padding-right:14px'><code><b>{html.escape(keys)}</b></code></td>"
            f"<td>{html.escape(text)}</td></tr>"
        )
    out.append(
        "</table><p style='color:#aaa'>any key or click closes this list · keys are changed with "
        "<code>mexlab shortcuts set ACTION KEYS</code></p>"
    )
    return "".join(out)


class ShortcutHelp(QFrame):
    """A translucent panel over ``parent`` (a child widget, so it moves and resizes with it)."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("shortcutHelp")
        self.setStyleSheet(
            "#shortcutHelp { background: rgba(20, 20, 24, 225); border-radius: 8px; }"
            "QLabel { color: #eee; font-size: 13px; } QScrollArea { background: transparent; }"
        )
        self.label = QLabel()
        self.label.setTextFormat(Qt.RichText)
        self.label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.label.setStyleSheet("background: transparent;")
        title = QLabel("<b style='font-size:16px'>Keyboard shortcuts</b>")
        scroll = QScrollArea()
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.viewport().setStyleSheet("background: transparent;")
        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addWidget(scroll, 1)
        self.setFocusPolicy(Qt.StrongFocus)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def toggle(self) -> None:
        if self.isVisible():
            self.close_help()
        else:
            self.open_help()

    def open_help(self) -> None:
        self.label.setText(help_html())  # read the keys in force each time
        p = self.parentWidget()
        w, h = min(760, p.width() - 40), p.height() - 40
        self.setGeometry((p.width() - w) // 2, 20, max(w, 200), max(h, 200))
        self.raise_()
        self.show()
        self.setFocus()

    def close_help(self) -> None:
        self.hide()
        if self.parentWidget() is not None:
            self.parentWidget().setFocus()

    def keyPressEvent(self, ev) -> None:  # noqa: N802 - Qt's name
        self.close_help()
        ev.accept()

    def mousePressEvent(self, ev) -> None:  # noqa: N802 - Qt's name
        self.close_help()
        ev.accept()
