"""The participant's self-report form: emotion category, intensity 1-9, valence and arousal on
Self-Assessment Manikin scales (Bradley & Lang 1994; 9 points, manikins drawn at 1, 3, 5, 7, 9), and
free text. ``submitted(answers)`` fires when the participant presses Continue."""

from __future__ import annotations

import random

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ANCHORS = {
    "intensity": ("very weak", "very strong"),
    "valence": ("unpleasant", "pleasant"),
    "arousal": ("calm", "excited"),
}
TITLES = {
    "category": "Which emotion did you feel most?",
    "intensity": "How strong was it?",
    "valence": "How pleasant or unpleasant did you feel?",
    "arousal": "How calm or excited did you feel?",
    "text": "Anything you would like to add? (optional)",
}


def sam_pixmap(scale: str, level: int, size: int, fg: QColor) -> QPixmap:
    """A Self-Assessment Manikin: ``level`` 1..5 from unpleasant to pleasant, or from calm to excited."""
    pm = QPixmap(size, size)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    pen = QPen(fg, max(1.5, size / 28))
    p.setPen(pen)
    s = size / 64.0
    if scale == "arousal" and level > 1:  # the "explosion" in the belly grows with arousal
        star = QPainterPath()
        r_out, r_in, c = (4 + 3.2 * level) * s, (2 + 1.4 * level) * s, QPointF(32 * s, 46 * s)
        import math

        for k in range(16):
            r = r_out if k % 2 == 0 else r_in
            a = math.pi * k / 8
            pt = QPointF(c.x() + r * math.cos(a), c.y() + r * math.sin(a))
            star.moveTo(pt) if k == 0 else star.lineTo(pt)
        star.closeSubpath()
        p.drawPath(star)
    p.drawEllipse(QRectF(20 * s, 4 * s, 24 * s, 24 * s))  # head
    p.drawLine(QPointF(32 * s, 28 * s), QPointF(32 * s, 38 * s))
    p.drawRoundedRect(QRectF(16 * s, 38 * s, 32 * s, 22 * s), 6 * s, 6 * s)  # body
    eye = 1.2 * s if scale == "valence" else (0.6 + 0.7 * level) * s
    p.setBrush(fg)
    p.drawEllipse(QPointF(27 * s, 14 * s), eye, eye)
    p.drawEllipse(QPointF(37 * s, 14 * s), eye, eye)
    p.setBrush(Qt.NoBrush)
    mouth = QPainterPath(QPointF(26 * s, 21 * s))
    bend = (level - 3) * 2.2 * s if scale == "valence" else 0.0
    mouth.quadTo(QPointF(32 * s, 21 * s + bend), QPointF(38 * s, 21 * s))
    if scale == "arousal":
        open_h = (level - 1) * 0.8 * s
        p.drawEllipse(QRectF(29 * s, 20 * s - open_h / 2, 6 * s, 1.5 * s + open_h))
    else:
        p.drawPath(mouth)
    p.end()
    return pm


class SelfReportForm(QWidget):
    submitted = Signal(dict)

    def __init__(self, fg: str = "#E6E6E6", bg: str = "#000000", font_px: int = 24, parent=None):
        super().__init__(parent)
        self.fg, self.bg, self.font_px = QColor(fg), QColor(bg), font_px
        self.items: list[str] = []
        self.groups: dict[str, QButtonGroup] = {}
        self.text_edit: QLineEdit | None = None
        self.submit = QPushButton("Continue")
        self.submit.clicked.connect(self._submit)
        self.setStyleSheet(self._style())
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(font_px * 3, font_px, font_px * 3, font_px)

    def _style(self) -> str:
        f, b, px = self.fg.name(), self.bg.name(), self.font_px
        return (
            f"QWidget {{ color: {f}; background: {b}; font-size: {px}px; }}"
            f"QPushButton {{ border: 2px solid #777; border-radius: 6px; padding: {px // 4}px {px // 2}px; }}"
            f"QPushButton:checked {{ background: #2E6DB4; border-color: #9CC3F0; color: white; }}"
            f"QPushButton:disabled {{ color: #555; border-color: #333; }}"
            f"QLineEdit {{ border: 2px solid #777; border-radius: 6px; padding: 4px; }}"
        )

    def setup(self, items: list[str], categories: list[str], prompt: str) -> None:
        """Rebuild the form for one self-report step."""
        while self._layout.count():
            it = self._layout.takeAt(0)
            if it.widget():
                _drop(it.widget())
            elif it.layout():
                _clear(it.layout())
        self.items, self.groups, self.text_edit = list(items), {}, None
        self.submit = QPushButton("Continue")
        self.submit.clicked.connect(self._submit)
        head = QLabel(prompt)
        head.setStyleSheet(f"font-size: {int(self.font_px * 1.3)}px; font-weight: bold;")
        head.setAlignment(Qt.AlignCenter)
        self._layout.addWidget(head)
        for item in self.items:
            title = QLabel(TITLES[item])
            title.setAlignment(Qt.AlignCenter)
            self._layout.addSpacing(self.font_px // 2)
            self._layout.addWidget(title)
            if item == "category":
                self._layout.addLayout(self._choices(item, categories, columns=min(5, len(categories))))
            elif item == "text":
                self.text_edit = QLineEdit()
                self._layout.addWidget(self.text_edit)
            else:
                self._layout.addLayout(self._scale(item))
        self._layout.addSpacing(self.font_px)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.submit)
        row.addStretch(1)
        self._layout.addLayout(row)
        self._layout.addStretch(1)
        self._update_submit()

    def _choices(self, item: str, labels: list[str], columns: int) -> QGridLayout:
        grid = QGridLayout()
        group = QButtonGroup(self)
        group.setExclusive(True)
        for i, label in enumerate(labels):
            b = QPushButton(label)
            b.setCheckable(True)
            b.setProperty("value", label)
            group.addButton(b, i)
            grid.addWidget(b, i // columns, i % columns)
        group.buttonClicked.connect(lambda _b: self._update_submit())
        self.groups[item] = group
        return grid

    def _scale(self, item: str) -> QHBoxLayout:
        row = QHBoxLayout()
        lo, hi = ANCHORS[item]
        left, right = QLabel(lo), QLabel(hi)
        row.addWidget(left)
        group = QButtonGroup(self)
        icon_px = int(self.font_px * 3.2)
        for v in range(1, 10):
            b = QPushButton(str(v) if item == "intensity" else "")
            b.setCheckable(True)
            b.setProperty("value", v)
            if item in ("valence", "arousal"):
                b.setToolTip(str(v))
                if v % 2 == 1:
                    b.setIcon(QIcon(sam_pixmap(item, (v + 1) // 2, icon_px, self.fg)))
                    b.setIconSize(b.iconSize().scaled(icon_px, icon_px, Qt.KeepAspectRatio))
                b.setMinimumSize(icon_px + 12, icon_px + 12)
            group.addButton(b, v)
            row.addWidget(b)
        group.buttonClicked.connect(lambda _b: self._update_submit())
        row.addWidget(right)
        self.groups[item] = group
        return row

    def _update_submit(self) -> None:
        self.submit.setEnabled(all(g.checkedButton() is not None for g in self.groups.values()))

    def answers(self) -> dict:
        out = {}
        for item, g in self.groups.items():
            b = g.checkedButton()
            out[item] = b.property("value") if b is not None else None
        if self.text_edit is not None:
            out["text"] = self.text_edit.text()
        return out

    def _submit(self) -> None:
        if self.submit.isEnabled():
            self.submitted.emit(self.answers())

    def simulate(self, rng: random.Random) -> None:
        """A simulated participant: click one button of every scale, type a word, press Continue."""
        for g in self.groups.values():
            buttons = g.buttons()
            rng.choice(buttons).click()
        if self.text_edit is not None:
            self.text_edit.setText(rng.choice(["", "it was funny", "felt uneasy", "nothing special"]))
        self.submit.click()


def _clear(layout) -> None:
    while layout.count():
        it = layout.takeAt(0)
        if it.widget():
            _drop(it.widget())
        elif it.layout():
            _clear(it.layout())


def _drop(w: QWidget) -> None:
    """Gone from the screen at once (deleteLater alone would leave it drawn until the event loop runs)."""
    w.hide()
    w.setParent(None)
    w.deleteLater()
