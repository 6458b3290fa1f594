"""The Models workspace: the recognition models of the catalog (and the shipped one) with their
date, views, classes, metrics and what they were evaluated on (an evaluation kept with the model,
else its metadata's), sha256 and confusion matrix; choose the default model (used by
`mexlab recognize`, Analyze and live flags when no model is named); pretrain (MvCL), train (from a
pretrained model, or resuming a checkpoint) or evaluate (LOSO, or a held-out test of the selected
model, the result kept with it) from a form in a worker with progress and Cancel
(:class:`ModelsTrainPanel`, the train panel of :mod:`app.gui.widgets.train_panel` with the
CLI's other options). The logic is :class:`app.services.models_state.ModelsState` and its
training functions (Qt-free); this file only shows it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
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
from app.gui.workers import run_in_thread
from app.services.models_state import (
    COLUMNS,
    ModelsState,
    Progress,
    TrainForm,
    checkpoint_info,
    pretrain_model,
    result_text,
)


class ModelsTrainPanel(TrainPanel):
    """The train panel with what `mexlab recognition` has besides: *Pretrain (MvCL)*
    (:func:`~app.services.models_state.pretrain_model`), *start from* a pretrained model (``--init``),
    *resume* from the model file's checkpoint (``--resume``; the form says when one is there), and
    for Evaluate a held-out test of the selected model or LOSO, the result kept with the selected
    model. Progress and Cancel as the train panel's (the same :class:`Progress`, the same worker)."""

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(db_url, parent)
        self.setTitle("Pretrain, train or evaluate a model")
        self.selected: str | None = None  # the model selected in the list (for Evaluate)
        self.init = QLineEdit()
        self.init.setPlaceholderText("a pretrained model to start training from (--init), e.g. pre.safetensors")
        self.resume = QCheckBox("continue from the model file's checkpoint (Train / Pretrain; --resume)")
        self.checkpoint = QLabel("")
        self.checkpoint.setWordWrap(True)
        self.protocol = QComboBox()
        self.protocol.addItems(
            [
                "LOSO (a model per left-out subject)",
                "LOSO with MvCL pretraining in every fold",
                "held-out test of the selected model",
            ]
        )
        self.protocol.setToolTip(
            "LOSO with MvCL: each fold pretrains the encoders on its training subjects' segments, labelled or "
            "not (30 MvCL epochs, the temperature and batch above), then trains the classifier "
            "(mexlab recognition evaluate --pretrain mvcl)"
        )
        self.keep = QCheckBox("keep the LOSO result with the selected model (shown in the list)")
        self.keep.setToolTip(
            "LOSO estimates the recipe (a model per left-out subject with these views, classes and epochs): "
            "keep it with the model trained that way. A held-out test is always kept with the model tested."
        )
        self.target = QLabel("no model selected")
        form = self.findChild(QFormLayout)
        form.addRow("start from", self.init)
        form.addRow("resume", self.resume)
        form.addRow("", self.checkpoint)
        form.addRow("evaluate", self.protocol)
        form.addRow(self.keep, self.target)
        self.pretrain_btn = QPushButton("Pretrain (MvCL)")
        self.pretrain_btn.setToolTip(
            "contrastive pretraining between the views on every segment, labelled or not; write the "
            "model file (then train from it: 'start from')"
        )
        self.layout().itemAt(1).layout().insertWidget(0, self.pretrain_btn)
        self.epochs.setToolTip("epochs of the run (Pretrain: MvCL epochs, 30 by default in the CLI)")
        self.pretrain_btn.clicked.connect(lambda: self.start("pretrain"))
        self.out.textChanged.connect(self.show_checkpoint)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self.show_checkpoint()

    HELDOUT = 2  # the protocol combo's row of the held-out test

    def _protocol_changed(self, index: int) -> None:
        held = index == self.HELDOUT
        self.eval_btn.setText("Evaluate (held-out)" if held else "Evaluate (LOSO)")
        self.eval_btn.setToolTip(
            "test the selected model itself on the dataset's subjects (not its training data); kept with it"
            if held
            else "leave-one-subject-out: UF1, UAR, accuracy and the confusion matrix"
        )
        self.keep.setEnabled(not held)  # a held-out test is always kept with the model tested

    def set_selected(self, path: str | None, name: str | None = None) -> None:
        self.selected = path
        self.target.setText(f"selected: {name or path}" if path else "no model selected")

    def form(self) -> TrainForm:
        f = super().form()
        f.init = self.init.text().strip() or None
        f.resume = self.resume.isChecked()
        f.protocol = "heldout" if self.protocol.currentIndex() == self.HELDOUT else "loso"
        f.pretrain = "mvcl" if self.protocol.currentIndex() == 1 else "none"
        f.model = self.selected if (f.protocol == "heldout" or self.keep.isChecked()) else None
        return f

    def show_checkpoint(self) -> None:
        text = self.out.text().strip()
        self.checkpoint.setText(checkpoint_info(Path(text).expanduser() if text else None) or "")
        self.checkpoint.setVisible(bool(self.checkpoint.text()))

    def start(self, action: str) -> None:
        if action != "pretrain":
            super().start(action)
        elif not self.running():
            form = self.form()
            out = Path(self.out.text().strip()).expanduser() if self.out.text().strip() else None
            if out is None:
                self._failed("give the model file to write (model file)")
                return
            prog = self.prog = Progress(self.progressed.emit)
            db = self.db_url
            for b in (self.train_btn, self.eval_btn):
                b.setEnabled(False)
            self.cancel_btn.setEnabled(True)
            self.bar.setRange(0, 0)  # busy until the first report
            self.status.setText(f"pretraining (MvCL) on {', '.join(form.datasets)} …")
            self.job = run_in_thread(lambda: pretrain_model(form, out, db, prog), self.finished.emit, self.failed.emit)
        if self.running():
            self.pretrain_btn.setEnabled(False)

    def _idle(self) -> None:
        super()._idle()
        self.pretrain_btn.setEnabled(True)
        self.show_checkpoint()
        if not self.checkpoint.text():
            self.resume.setChecked(False)  # nothing left to resume (the run finished)


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
        self.train = ModelsTrainPanel(db_url)
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
        split.setSizes([200, 220, 380])
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
        if res["action"] in ("train", "pretrain"):
            self.refresh()
            row = next((i for i, r in enumerate(self.state.rows) if r["sha256"] == res["sha256"]), None)
            if row is not None:
                self.table.selectRow(row)
        elif res.get("stored"):  # kept with the selected model: the list shows it
            self.refresh()
            self.plot.set_matrix(res["confusion"]["labels"], res["confusion"]["matrix"])
        else:
            self.refresh()
            self.table.clearSelection()
            self.plot.set_matrix(res["confusion"]["labels"], res["confusion"]["matrix"])
        self.details.setPlainText(result_text(res))
        done = {"train": "training done", "pretrain": "pretraining done"}.get(res["action"], "evaluation done")
        if res.get("stored"):
            done += " (kept with the model)"
        self.message.setText(done)
        self.train.status.setText(f"{done}: {self.train.status.text()}" if self.train.status.text() else done)

    def _current(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    def _selected(self) -> None:
        i = self._current()
        ok = i is not None and i < len(self.state.rows)
        self.default_btn.setEnabled(ok and not self.state.rows[i]["default"])
        row = self.state.rows[i] if ok and self.state.rows[i]["exists"] else None
        self.train.set_selected(row["path"] if row else None, row["name"] if row else None)
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
