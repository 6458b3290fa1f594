"""The self-report answers of a session, as the catalog holds them (``mexlab sessions responses``)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from app.gui.widgets.tables import fit_dialog, text_table

COLS = (
    "block",
    "trial",
    "condition",
    "kind",
    "stimulus / question",
    "category",
    "intensity",
    "valence",
    "arousal",
    "rt (s)",
    "text",
)


def cells(r: dict) -> tuple[str, ...]:
    def f(v) -> str:
        return "" if v is None else str(v)

    kind = f(r.get("kind")) + (" (simulated)" if r.get("simulated") else "")
    return (
        f(r.get("block")),
        f(r.get("trial")),
        f(r.get("condition")),
        kind,
        f(r.get("stimulus") or r.get("question")),
        f(r.get("category")),
        f(r.get("intensity")),
        f(r.get("valence")),
        f(r.get("arousal")),
        "" if r.get("rt_s") is None else f"{r['rt_s']:.3f}",
        f(r.get("text")),
    )


class ResponsesDialog(QDialog):
    def __init__(self, session: dict, rows: list[dict], parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Self-reports of {session.get('participant') or '-'} ({session['session_id'][:8]})")
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(
                f"{len(rows)} answer(s) · protocol {session.get('protocol') or '-'} · "
                "intensity 1–9, valence and arousal on SAM scales 1–9"
            )
        )
        self.table = text_table(COLS, (cells(r) for r in rows))
        lay.addWidget(self.table)
        fit_dialog(self, self.table, 120)
