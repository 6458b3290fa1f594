"""A read-only table of text rows, sized to its contents (the reliability and self-report dialogs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtWidgets import QAbstractItemView, QDialog, QTableWidget, QTableWidgetItem


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    for r, row in enumerate(rows):
        table.insertRow(r)
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    return table


def fit_dialog(dialog: QDialog, table: QTableWidget, extra_height: int) -> None:
    """Make ``dialog`` as wide as the table's columns and tall enough for its rows (within bounds)."""
    dialog.resize(min(1200, 60 + table.horizontalHeader().length()), min(600, extra_height + 30 * table.rowCount()))
