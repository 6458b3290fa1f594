"""The reliability table of the Annotate workspace: agreement between the coders of the open
session per clip (the protocol's stimulus and question steps), for the session and, when the
study is given, pooled (logic: :func:`analysis.annotation.service.session_reliability`, the same
report as ``mexlab reliability --json``)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from app.gui.widgets.tables import fit_dialog, text_table

COLS = ("level", "clip / session", "CASME R", "matched", "unmatched", "mean IoU", "onset Δ", "offset Δ", "kappa")


def _f(v, fmt="{:.3f}") -> str:
    return "–" if v is None else fmt.format(v)


def rows(rep: dict) -> list[tuple[str, ...]]:
    """The table's rows: one per clip, per session and the study (two coders: their figures;
    three or more: the mean CASME R over coder pairs and Fleiss' kappa)."""
    two = len(rep["coders"]) == 2
    out = []
    levels = [
        ("clip", {k: v for k, v in rep["clips"].items() if k not in rep["sessions"]}),
        ("session", rep["sessions"]),
    ]
    if len(rep["sessions"]) > 1:
        levels.append(("study", {"all sessions": rep}))
    for level, items in levels:
        for name, r in items.items():
            ia = r["interval_agreement"]
            if two:
                d = ia["frame_differences"]
                cells = (
                    str(ia["matched"]),
                    f"{ia['unmatched_1']} / {ia['unmatched_2']}",
                    _f(ia["mean_iou"]),
                    _f(d["onset"]["mean"], "{:+.1f}"),
                    _f(d["offset"]["mean"], "{:+.1f}"),
                )
            else:
                cells = ("", "", "", "", "")
            out.append(
                (
                    level,
                    name,
                    _f(r["casme_r"]),
                    *cells,
                    f"{_f(r['kappa']['value'])} ({r['kappa']['method']}, {r['kappa']['frames']} frames)",
                )
            )
    return out


class ReliabilityDialog(QDialog):
    def __init__(self, rep: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Reliability between coders")
        self.report = rep
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(
                f"coders: {', '.join(rep['coders'])} · events paired one-to-one at IoU ≥ 0.5; "
                "CASME R = 2·|AU agreed| / (|AU 1| + |AU 2|); Δ in frames (coder 2 − coder 1)"
            )
        )
        self.table = text_table(COLS, rows(rep))
        lay.addWidget(self.table)
        fit_dialog(self, self.table, 110)


def compute_reliability(db_url, target, done, failed):
    """The session's reliability computed in a worker thread (it reads the XDF for the clips) with
    its own catalog connection; ``done(report)`` or ``failed(message)`` on the GUI thread. Returns the job."""
    from analysis.annotation.service import session_reliability
    from analysis.annotation.store import AnnotationStore
    from app.gui.workers import run_in_thread

    def work():
        with AnnotationStore(db_url) as store:  # its own connection: this runs off the GUI thread
            return session_reliability(store, [target])

    return run_in_thread(work, done, failed)
