"""The self-report answers of a session, as the catalog holds them (``mexlab sessions responses``)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QDialog, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

COLS = ("block", "trial", "condition", "kind", "stimulus / question", "category", "intensity", "valence",
        "arousal", "rt (s)", "text")


def cells(r: dict) -> tuple[str, ...]:
    def f(v) -> str:
        return "" if v is None else str(v)

    kind = f(r.get("kind")) + (" (simulated)" if r.get("simulated") else "")
    return (f(r.get("block")), f(r.get("trial")), f(r.get("condition")), kind,
            f(r.get("stimulus") or r.get("question")), f(r.get("category")), f(r.get("intensity")),
            f(r.get("valence")), f(r.get("arousal")), "" if r.get("rt_s") is None else f"{r['rt_s']:.3f}",
            f(r.get("text")))


class ResponsesDialog(QDialog):
    def __init__(self, session: dict, rows: list[dict], parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Self-reports of {session.get('participant') or '-'} ({session['session_id'][:8]})")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"{len(rows)} answer(s) · protocol {session.get('protocol') or '-'} · "
                             "intensity 1–9, valence and arousal on SAM scales 1–9"))
        self.table = QTableWidget(0, len(COLS))
        self.table.setHorizontalHeaderLabels(COLS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        for i, r in enumerate(rows):
            self.table.insertRow(i)
            for c, text in enumerate(cells(r)):
                self.table.setItem(i, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        lay.addWidget(self.table)
        self.resize(min(1200, 60 + self.table.horizontalHeader().length()), min(600, 120 + 30 * len(rows)))
