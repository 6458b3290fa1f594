"""The reconciliation dialog of the Annotate workspace: two coders' codings of the session side by
side, paired one-to-one at IoU ≥ 0.5, a choice per pair (A's, B's, merged with the union or the
intersection of the AUs, drop), each unpaired event kept or dropped, and the consensus stored as
coder ``consensus``. The dialog is a view of a Qt-free
:class:`analysis.annotation.consensus.ReconcileChoices` (``self.choices_model``): each combo box
writes its choice there (logic: :mod:`analysis.annotation.consensus`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from acquisition.errors import MexlabError
from analysis.annotation.consensus import CONSENSUS_CODER, ReconcileChoices

COLS = ("A frames", "A AUs", "A emotion", "IoU", "B frames", "B AUs", "B emotion", "consensus")
CHOICE_TEXT = {"a": "take A", "b": "take B", "union": "merge, AUs ∪", "intersection": "merge, AUs ∩", "drop": "drop"}
PAIR_CHOICES = ("union", "intersection", "a", "b", "drop")


def _frames(e) -> str:
    return f"{e.onset}–{e.offset}" if e.apex is None else f"{e.onset}–{e.apex}–{e.offset}"


class ReconcileDialog(QDialog):
    def __init__(self, store, clip, coders: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Reconcile codings of {clip.video_name}")
        self.store, self.clip = store, clip
        self.rec = None
        self.choices_model: ReconcileChoices | None = None
        self.saved: list = []
        self.coder_a, self.coder_b = QComboBox(), QComboBox()
        names = [c for c in coders if c != CONSENSUS_CODER]
        for box, k in ((self.coder_a, 0), (self.coder_b, 1)):
            box.addItems(names)
            if len(names) > k:
                box.setCurrentIndex(k)
            box.currentIndexChanged.connect(self.load)
        top = QHBoxLayout()
        for w in (QLabel("coder A"), self.coder_a, QLabel("coder B"), self.coder_b):
            top.addWidget(w)
        top.addStretch(1)
        self.table = QTableWidget(0, len(COLS))
        self.table.setHorizontalHeaderLabels(COLS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel("")
        self.save_btn = QPushButton("Save consensus", clicked=self.save)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.save_btn)
        bottom.addWidget(QPushButton("Close", clicked=self.accept))
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(self.table, 1)
        root.addLayout(bottom)
        self.resize(900, 360)
        self.load()

    # ------------------------------------------------------------------ content
    def load(self) -> None:
        a, b = self.coder_a.currentText(), self.coder_b.currentText()
        self.table.setRowCount(0)
        self.rec = self.choices_model = None
        if not a or not b or a == b:
            self.summary.setText("pick two different coders")
            self.save_btn.setEnabled(False)
            return
        sid = self.clip.session_id
        m = self.choices_model = ReconcileChoices(self.store.events(sid, a), self.store.events(sid, b), a, b)
        self.rec = m.rec
        rows = len(self.rec.pairs) + len(self.rec.only_a) + len(self.rec.only_b)
        self.table.setRowCount(rows)
        self.choices: list[QComboBox] = []
        self.keep_a: list[QComboBox] = []
        self.keep_b: list[QComboBox] = []
        r = 0
        for k, p in enumerate(self.rec.pairs):
            self._fill(r, p.a, p.b, f"{p.iou:.2f}")
            box = QComboBox()
            for c in PAIR_CHOICES:
                box.addItem(CHOICE_TEXT[c], c)
            box.setCurrentIndex(box.findData(m.choices[k]))
            box.currentIndexChanged.connect(lambda _i, k=k, box=box: m.choose(k, box.currentData()))
            self.table.setCellWidget(r, 7, box)
            self.choices.append(box)
            r += 1
        for evs, side, keep in ((self.rec.only_a, "a", self.keep_a), (self.rec.only_b, "b", self.keep_b)):
            for k, e in enumerate(evs):
                self._fill(r, e if side == "a" else None, e if side == "b" else None, "unpaired")
                box = QComboBox()
                box.addItem("keep", True)
                box.addItem("drop", False)
                box.currentIndexChanged.connect(lambda _i, s=side, k=k, box=box: m.keep(s, k, box.currentData()))
                self.table.setCellWidget(r, 7, box)
                keep.append(box)
                r += 1
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(7, max(self.table.columnWidth(7), 170))
        self.save_btn.setEnabled(True)
        self.summary.setText(m.summary())

    def _fill(self, r: int, a, b, mid: str) -> None:
        vals = (
            _frames(a) if a else "",
            a.aus if a else "",
            (a.emotion or "") if a else "",
            mid,
            _frames(b) if b else "",
            b.aus if b else "",
            (b.emotion or "") if b else "",
        )
        for c, v in enumerate(vals):
            it = QTableWidgetItem(v)
            it.setTextAlignment(Qt.AlignCenter)
            if mid == "unpaired":
                it.setBackground(QColor(255, 236, 200))
            self.table.setItem(r, c, it)

    def set_choice(self, pair: int, choice: str) -> None:
        box = self.choices[pair]
        box.setCurrentIndex(box.findData(choice))

    def set_keep(self, side: str, k: int, keep: bool) -> None:
        box = (self.keep_a if side == "a" else self.keep_b)[k]
        box.setCurrentIndex(box.findData(keep))

    def result(self) -> list:
        """The consensus events the current choices give."""
        return self.choices_model.result(self.clip.fps) if self.choices_model is not None else []

    def save(self) -> None:
        try:
            self.saved = self.store.replace_coding(self.clip.session_id, CONSENSUS_CODER, self.result())
        except MexlabError as exc:
            self.summary.setText(str(exc))
            self.summary.setStyleSheet("color: #c22;")
            return
        self.summary.setStyleSheet("")
        self.summary.setText(
            f"stored {len(self.saved)} event(s) as coder '{CONSENSUS_CODER}' "
            f"(open coder {CONSENSUS_CODER} to review them)"
        )


def open_reconcile(store, clip, parent=None) -> tuple[ReconcileDialog | None, str]:
    """The reconciliation dialog of ``clip``'s session, shown (non-modal); (None, why) when the
    session has fewer than two coders."""
    coders = store.coders(clip.session_id)
    if len([c for c in coders if c != CONSENSUS_CODER]) < 2:
        return None, f"reconcile needs two coders of this session; coded by: {', '.join(coders) or 'nobody'}"
    dlg = ReconcileDialog(store, clip, coders, parent)
    dlg.show()
    return dlg, ""
