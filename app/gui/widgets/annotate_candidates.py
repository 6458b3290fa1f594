"""The row of session-wide actions under the Annotate tracks: EMG candidates (with the baseline they
are measured against), spotting candidates, reconciliation and reliability. The work is done by
Qt-free code (:mod:`analysis.annotation.candidate_import` on the workspace's
:class:`~analysis.annotation.workspace_model.AnnotateModel`, the dialogs' models); the bar asks the
workspace only for what is open now (``context()``: model, clip, store) and tells it to show the
outcome (``after()``) or a line (``say``)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from analysis.annotation import candidate_import
from analysis.annotation.candidate_import import BASELINES, Baseline


class SessionActions(QWidget):
    def __init__(self, db_url, context, after, say, parent=None):
        super().__init__(parent)
        self.db_url, self.context, self.after, self.say = db_url, context, after, say
        self.reconcile_dialog = self.reliability_dialog = self.reliability_job = None
        self.emg_btn = QPushButton(
            "EMG candidates",
            clicked=self.add_emg_candidates,
            toolTip="EMG bursts of the mapped channels as candidate events",
        )
        self.baseline = QComboBox(toolTip="the quiet segment the EMG bursts are measured against")
        self.baseline.addItems(BASELINES)
        self.baseline_s = QSpinBox(minimum=1, maximum=600, value=10, suffix=" s", toolTip="baseline: first N seconds")
        self.baseline.currentIndexChanged.connect(lambda i: self.baseline_s.setEnabled(i == 0))
        self.spot_btn = QPushButton(
            "Spotting candidates",
            clicked=self.add_spotting_candidates,
            toolTip="the intervals of analysis/spotting.json as candidate events",
        )
        self.reconcile_btn = QPushButton(
            "Reconcile…", clicked=self.reconcile, toolTip="two coders side by side; store the consensus"
        )
        self.reliability_btn = QPushButton(
            "Reliability…",
            clicked=self.show_reliability,
            toolTip="agreement between the coders, per clip and for the session",
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (
            self.emg_btn,
            QLabel("baseline"),
            self.baseline,
            self.baseline_s,
            self.spot_btn,
            self.reconcile_btn,
            self.reliability_btn,
        ):
            row.addWidget(w)
        row.addStretch(1)

    def chosen_baseline(self) -> Baseline:
        return Baseline(self.baseline.currentText(), float(self.baseline_s.value()))

    def _open(self):
        """(model, clip, store) of the open session, or None (and said)."""
        ctx = self.context()
        if ctx is None:
            self.say("open a session first", error=True)
        return ctx

    def add_emg_candidates(self) -> int:
        ctx = self.context()
        if ctx is None:
            return 0
        n = candidate_import.add_emg_candidates(ctx[0], ctx[1], self.chosen_baseline())
        self.after()
        return n

    def add_spotting_candidates(self) -> int:
        ctx = self.context()
        if ctx is None:
            return 0
        n = candidate_import.add_spotting_candidates(ctx[0], ctx[1])
        self.after()
        return n

    def reconcile(self):
        """Open the reconciliation dialog (non-modal); returns it."""
        from app.gui.widgets.annotate_reconcile import open_reconcile

        ctx = self._open()
        if ctx is None:
            return None
        dlg, why = open_reconcile(ctx[2], ctx[1], self.window())
        if dlg is None:
            self.say(why, error=True)
            return None
        self.reconcile_dialog = dlg
        return dlg

    def show_reliability(self) -> None:
        """The session's reliability, computed off the GUI thread, in ``self.reliability_dialog``."""
        from app.gui.widgets.annotate_reliability import (
            ReliabilityDialog,
            compute_reliability,
        )

        ctx = self._open()
        if ctx is None:
            return
        clip = ctx[1]

        def done(rep):
            self.reliability_dialog = ReliabilityDialog(rep, self.window())
            self.reliability_dialog.show()
            self.say(f"reliability of {len(rep['clips'])} clip(s) between {', '.join(rep['coders'])}")

        self.reliability_btn.setEnabled(False)
        self.say("computing reliability…")
        self.reliability_job = compute_reliability(
            self.db_url, clip.folder or clip.rgb, done, lambda msg: self.say(msg, error=True)
        )
        for sig in (self.reliability_job.signals.done, self.reliability_job.signals.failed):
            sig.connect(lambda *_: self.reliability_btn.setEnabled(True))
