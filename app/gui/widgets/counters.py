"""Per-stream counters: rate and losses, red as soon as anything is lost."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

RED = QColor("#d33")
_RED_ROLE = 0x0100 + 7  # Qt.UserRole + 7: whether a cell is shown red


class CountersTable(QTableWidget):
    COLUMNS = ("stream", "count", "rate", "lost", "queue")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.red_rows: set[str] = set()

    def update_from(self, snapshot: dict | None) -> None:
        if not snapshot:
            return
        rows = []
        el = max(snapshot["elapsed"], 1e-6)
        for key, v in snapshot["videos"].items():
            lost = v["dropped_counter_gap"] + v["dropped_queue_overflow"]
            rows.append((f"{key} video", v["frames_written"], f"{v['frames_written'] / el:.1f} fps", lost, v["queue"]))
        for name, s in snapshot["streams"].items():
            rows.append((name, s["samples"], f"{s['samples'] / el:.0f} Hz", s["missing"], ""))
        if self.rowCount() != len(rows):
            self.setRowCount(len(rows))
        self.red_rows = set()
        # 10 times a second while recording: the cells are updated in place, and only where the text
        # changes (new items every time cost the GUI thread ~4 % of its time: each one re-measured the
        # columns sized to their contents)
        for r, row in enumerate(rows):
            lost = row[3]
            for c, val in enumerate(row):
                text = str(val)
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem(text)
                    self.setItem(r, c, item)
                elif item.text() != text:
                    item.setText(text)
                if bool(lost) != (item.data(_RED_ROLE) is True):
                    item.setData(_RED_ROLE, bool(lost))
                    item.setForeground(RED if lost else self.palette().text())
            if lost:
                self.red_rows.add(row[0])
