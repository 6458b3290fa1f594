"""The Models view's training form: dataset spec(s), classes, views, label fraction, epochs, whose
labels (the coders' consensus, a named coder, or the rig's ground truth), MvCL's temperature and batch,
and the model file; Train / Evaluate run :func:`app.services.models_state.train_model` /
:func:`~app.services.models_state.evaluate_form` (the library calls of `mexlab recognition train` /
`evaluate`) in a worker, with a progress bar (features, epochs or folds, ETA) and Cancel (the
training code's stop callback: it stops after the current batch)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from app.gui.workers import run_in_thread
from app.services.models_state import Progress, TrainForm, evaluate_form, train_model


class TrainPanel(QGroupBox):
    progressed = Signal(str, int, int, str)  # from the worker: stage, done, total, line
    finished = Signal(object)  # the result dict (train_model / evaluate_form)
    failed = Signal(str)

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__("Train or evaluate a model", parent)
        self.db_url = db_url
        self.prog: Progress | None = None
        self.last_error: str | None = None
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("KIND:ROOT, e.g. casme3:/data/casme3 (several: separated by ;)")
        self.classes = QComboBox(editable=True)
        self.classes.addItems(["3", "5", "4", "7"])
        self.classes.setToolTip("class scheme 3, 5, 4, 7 or a mapping file")
        self.views = QComboBox(editable=True)
        self.views.addItems(["rgb,diff", "rgb,depth", "rgb,roi", "rgb"])
        self.fraction = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05, value=1.0, decimals=2)
        self.fraction.setToolTip("the share of each class's labels used for training (>= 1 per class)")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=40)
        self.labels = QComboBox()
        self.labels.addItems(["coders' consensus", "coders' consensus, else this coder:", "the rig's ground truth"])
        self.labels.setToolTip(
            "mexlab sessions: whose coding labels the segments (--coder NAME; --truth rig for the simulated rig's "
            "ground truth). The public databases carry their own labels."
        )
        self.coder = QLineEdit()
        self.coder.setPlaceholderText("coder's name")
        self.coder.setEnabled(False)
        self.labels.currentIndexChanged.connect(lambda i: self.coder.setEnabled(i == 1))
        self.temperature = QDoubleSpinBox(minimum=0.01, maximum=10.0, singleStep=0.01, value=0.1, decimals=3)
        self.temperature.setToolTip("MvCL's InfoNCE temperature (Pretrain; LOSO with MvCL pretraining)")
        self.batch = QSpinBox(minimum=2, maximum=4096, value=64)
        self.batch.setToolTip(
            "MvCL's batch: the segments each contrastive step sees; each one's other view must be told apart "
            "from the batch's other segments (Pretrain; LOSO with MvCL pretraining)"
        )
        self.out = QLineEdit()
        self.out.setPlaceholderText("the model file to write (Train), e.g. ~/models/lab.safetensors")
        form = QFormLayout()
        form.addRow("dataset(s)", self.dataset)
        form.addRow("classes", self.classes)
        form.addRow("views", self.views)
        form.addRow("label fraction", self.fraction)
        form.addRow("epochs", self.epochs)
        who = QHBoxLayout()
        who.addWidget(self.labels)
        who.addWidget(self.coder, 1)
        form.addRow("labels", who)
        mvcl = QHBoxLayout()
        mvcl.addWidget(QLabel("temperature"))
        mvcl.addWidget(self.temperature)
        mvcl.addWidget(QLabel("batch"))
        mvcl.addWidget(self.batch)
        mvcl.addStretch(1)
        form.addRow("MvCL", mvcl)
        form.addRow("model file", self.out)
        self.train_btn = QPushButton("Train")
        self.train_btn.setToolTip("train on all the data, write the model file and register it in the catalog")
        self.eval_btn = QPushButton("Evaluate (LOSO)")
        self.eval_btn.setToolTip("leave-one-subject-out: UF1, UAR, accuracy and the confusion matrix")
        self.cancel_btn = QPushButton("Cancel", enabled=False)
        self.bar = QProgressBar()
        self.bar.setFormat("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.train_btn, self.eval_btn, self.cancel_btn):
            buttons.addWidget(b)
        buttons.addWidget(self.bar, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        self.train_btn.clicked.connect(lambda: self.start("train"))
        self.eval_btn.clicked.connect(lambda: self.start("evaluate"))
        self.cancel_btn.clicked.connect(self.cancel)
        self.progressed.connect(self._progress)
        self.finished.connect(lambda _res: self._idle())
        self.failed.connect(self._failed)

    def form(self) -> TrainForm:
        specs = [s.strip() for s in self.dataset.text().split(";") if s.strip()]
        return TrainForm(
            specs,
            classes=self.classes.currentText().strip() or "3",
            views=self.views.currentText().strip(),
            label_fraction=round(self.fraction.value(), 4),
            epochs=self.epochs.value(),
            truth="rig" if self.labels.currentIndex() == 2 else None,
            coder=(self.coder.text().strip() or "") if self.labels.currentIndex() == 1 else None,
            temperature=round(self.temperature.value(), 4),
            batch=self.batch.value(),
        )

    def running(self) -> bool:
        return self.prog is not None

    def start(self, action: str) -> None:
        if self.running():
            return
        form = self.form()
        out = Path(self.out.text().strip()).expanduser() if self.out.text().strip() else None
        if action == "train" and out is None:
            self._failed("give the model file to write (model file)")
            return
        prog = self.prog = Progress(self.progressed.emit)
        db = self.db_url
        fn = (lambda: train_model(form, out, db, prog)) if action == "train" else (lambda: evaluate_form(form, prog))
        for b in (self.train_btn, self.eval_btn):
            b.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.bar.setRange(0, 0)  # busy until the first report
        self.status.setText(f"{'training' if action == 'train' else 'evaluating'} on {', '.join(form.datasets)} …")
        self.job = run_in_thread(fn, self.finished.emit, self.failed.emit)

    def cancel(self) -> None:
        if self.prog is not None:
            self.prog.cancelled.set()
            self.status.setText("cancelling (after the current batch) …")
        self.cancel_btn.setEnabled(False)

    def _progress(self, stage: str, done: int, total: int, line: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"{stage} %v/%m")
        self.status.setText(line)

    def _idle(self) -> None:
        self.prog = None
        for b in (self.train_btn, self.eval_btn):
            b.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
        self.bar.setValue(self.bar.maximum())

    def _failed(self, message: str) -> None:
        self._idle()
        self.bar.setFormat("stopped")
        self.status.setText(message if "cancelled" in message else f"error: {message}")
        self.last_error = message
