"""Analyze's recognition bar: a picker of the recognition model (the default, the shipped one and
the catalog's models: :func:`analysis.analyze_model.model_choices`) and a "Recognise" button. The
workspace runs the recognition; this widget only offers the choice."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from analysis.analyze_model import ModelChoice


class RecogniseBar(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.picker = QComboBox()
        self.picker.setMinimumWidth(280)
        self.picker.setToolTip("the recognition model (Models view: train one, or choose the default)")
        self.button = QPushButton("Recognise")
        self.button.setToolTip(
            "classify the session's micro intervals with the chosen model (as `mexlab recognize`; "
            "spots first when the session has no spotting yet)"
        )
        self.note = QLabel("")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Recognition model"))
        lay.addWidget(self.picker, 1)
        lay.addWidget(self.button)
        lay.addWidget(self.note)

    def fill(self, choices: list[ModelChoice], note: str | None = None) -> None:
        """List ``choices``, keeping the current one when it is still there."""
        keep = self.picker.currentData()
        self.picker.blockSignals(True)
        self.picker.clear()
        for c in choices:
            self.picker.addItem(c.label, c.path)
            self.picker.setItemData(self.picker.count() - 1, c.path or "the default model", 3)  # tooltip
        idx = self.picker.findData(keep) if keep else 0
        self.picker.setCurrentIndex(max(idx, 0))
        self.picker.blockSignals(False)
        self.note.setText("⚠" if note else "")
        self.note.setToolTip(note or "")

    def chosen(self) -> str | None:
        """The chosen model file (None: the default model)."""
        return self.picker.currentData()
