"""The Models workspace: the recognition models of the catalog (and the shipped one) with their
date, views, classes, metrics, sha256 and confusion matrix; choose the default model (used by
`mexlab recognize`, Analyze and live flags when no model is named); train or evaluate a model from
a form in a worker with progress and Cancel (:mod:`app.gui.widgets.train_panel`). The logic is
:class:`app.services.models_state.ModelsState` and its training functions (Qt-free); this file only
shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from acquisition.errors import MexlabError
from app.gui.widgets.confusion import ConfusionPlot
from app.gui.widgets.train_panel import TrainPanel
from app.services.models_state import COLUMNS, ModelsState, result_text


class ModelsWorkspace(QWidget):
    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.state = ModelsState(db_url)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selected)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        self.default_btn = QPushButton("Make default")
        self.default_btn.setToolTip("use the selected model when none is named (recognize, Analyze, live flags)")
        self.default_btn.clicked.connect(self._make_default)
        self.shipped_btn = QPushButton("Use the shipped model")
        self.shipped_btn.clicked.connect(self._use_shipped)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))  # the metrics' columns
        self.plot = ConfusionPlot()
        self.train = TrainPanel(db_url)
        self.train.finished.connect(self._run_done)
        self.last_result: dict | None = None
        top = QHBoxLayout()
        for w in (self.refresh_btn, self.default_btn, self.shipped_btn):
            top.addWidget(w)
        top.addWidget(self.message, 1)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(self.details)
        bottom.addWidget(self.plot)
        bottom.setSizes([500, 400])
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.addWidget(self.train)
        split.setSizes([260, 300, 240])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt): the catalog is read when shown
        super().showEvent(ev)
        self.refresh()

    def refresh(self) -> None:
        keep = self._current()
        sha = self.state.rows[keep]["sha256"] if keep is not None else None
        self.state.refresh()
        self.table.setRowCount(len(self.state.rows))
        for i in range(len(self.state.rows)):
            for j, col in enumerate(COLUMNS):
                it = QTableWidgetItem(self.state.cell(i, col))
                tip = self.state.tooltip(i, col)
                if tip:
                    it.setToolTip(tip)
                self.table.setItem(i, j, it)
        msgs = [m for m in (self.state.error, self.state.default_error) if m]
        self.message.setText("; ".join(msgs) if msgs else f"{len(self.state.rows)} model(s); ★ = the default")
        row = next((i for i, r in enumerate(self.state.rows) if r["sha256"] == sha), self.state.default_index())
        if row is not None:
            self.table.selectRow(row)
        self._selected()

    def _run_done(self, res: dict) -> None:
        """A training or evaluation ended: its metrics (and confusion matrix) shown; the list re-read
        (a trained model is registered: it is selected)."""
        self.last_result = res
        if res["action"] == "train":
            self.refresh()
            row = next((i for i, r in enumerate(self.state.rows) if r["sha256"] == res["sha256"]), None)
            if row is not None:
                self.table.selectRow(row)
        else:
            self.refresh()
            self.table.clearSelection()
            self.plot.set_matrix(res["confusion"]["labels"], res["confusion"]["matrix"])
        self.details.setPlainText(result_text(res))
        self.message.setText("training done" if res["action"] == "train" else "evaluation done")

    def _current(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    def _selected(self) -> None:
        i = self._current()
        ok = i is not None and i < len(self.state.rows)
        self.default_btn.setEnabled(ok and not self.state.rows[i]["default"])
        self.details.setPlainText(self.state.details(i) if ok else "")
        cm = self.state.confusion(i) if ok else None
        self.plot.set_matrix(*(cm or ([], [])))

    def _make_default(self) -> None:
        i = self._current()
        if i is None:
            return
        try:
            self.state.set_default(i)
        except MexlabError as exc:
            QMessageBox.warning(self, "Models", str(exc))
            return
        self.refresh()

    def _use_shipped(self) -> None:
        try:
            self.state.use_shipped()
        except MexlabError as exc:
            QMessageBox.warning(self, "Models", str(exc))
            return
        self.refresh()
