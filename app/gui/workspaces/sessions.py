"""The Sessions workspace: the catalog — participants, sessions with status (aborted: the step reached
in its tooltip), health (the check's verdict, acquisition.health; reasons in its tooltip), duration,
protocol, streams, drops and size; search and filter; open the folder; re-check; delete only after asking."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app import session_ops
from app.gui.workers import run_in_thread
from app.state import SessionsState

from acquisition.catalog.format import format_health_cell, format_status
from acquisition.health import COLOURS as HEALTH_COLOURS

COLUMNS = ("started", "participant", "protocol", "status", "health", "duration", "streams", "drops", "size",
           "folder")
STATUS_COLOURS = {"complete": "#2a7", "aborted": "#d90", "interrupted": "#d33", "recording": "#d90",
                  "unknown": "#888"}
NOT_CHECKED = "#888"


def status_colour(row: dict) -> str:
    """Green only for a complete session whose health is ok: the status never looks better than the
    check (a complete session with 9 % of its frames dropped is red)."""
    verdict = (row.get("health") or {}).get("verdict")
    if row.get("status") == "complete":
        return HEALTH_COLOURS.get(verdict, NOT_CHECKED)
    return STATUS_COLOURS.get(row.get("status"), "#888")


def _fmt_duration(s) -> str:
    if s is None:
        return "-"
    s = float(s)
    return f"{int(s // 60)}:{s % 60:04.1f}"


def _fmt_size(b) -> str:
    b = float(b or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if b < 1000 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000.0
    return f"{b:.1f} GB"


def _is_own_stream(name: str) -> bool:
    """mexlab's own bookkeeping streams (markers, frame indices) are in every session: not listed."""
    return name == "mexlab-markers" or (name.startswith("mexlab-") and name.endswith("-frames"))


class SessionsWorkspace(QWidget):
    _rows_ready = Signal(object)

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.db_url = db_url
        self.state = SessionsState()
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("search participant, protocol, folder, stream …")
        self.search.textChanged.connect(self._apply_filter)
        self.status_filter = QComboBox()
        self.status_filter.addItem("all statuses", None)
        for s in ("complete", "aborted", "interrupted", "recording"):
            self.status_filter.addItem(s, s)
        for v in ("ok", "warning", "bad"):
            self.status_filter.addItem(f"health: {v}", f"health:{v}")
        self.status_filter.currentIndexChanged.connect(self._apply_filter)
        self.participant_filter = QComboBox()
        self.participant_filter.addItem("all participants", None)
        self.participant_filter.currentIndexChanged.connect(self._apply_filter)
        top.addWidget(self.participant_filter)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        top.addWidget(self.search, 1)
        top.addWidget(self.status_filter)
        top.addWidget(self.refresh_btn)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSortingEnabled(True)
        bottom = QHBoxLayout()
        self.open_btn = QPushButton("Open folder")
        self.recheck_btn = QPushButton("Re-check")
        self.delete_btn = QPushButton("Delete…")
        self.analyze_btn = QPushButton("Analyze")
        self.analyze_btn.clicked.connect(self._analyze)
        self.open_in_analyze = None  # set by the main window
        self.annotate_btn = QPushButton("Annotate")
        self.annotate_btn.clicked.connect(self._annotate)
        self.open_in_annotate = None
        self.responses_btn = QPushButton("Self-reports…")
        self.responses_btn.setToolTip("the self-report answers of the session's protocol run, from the catalog")
        self.responses_btn.clicked.connect(self.show_responses)
        self.responses_dialog = None
        self.open_btn.clicked.connect(self.open_folder)
        self.recheck_btn.clicked.connect(self.recheck)
        self.delete_btn.clicked.connect(self.delete)
        self.info = QLabel("")
        for b in (self.open_btn, self.recheck_btn, self.analyze_btn, self.annotate_btn, self.responses_btn,
                  self.delete_btn):
            bottom.addWidget(b)
        bottom.addWidget(self.info, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)
        self._rows_ready.connect(self._show_rows)

    # -- data -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.info.setText("loading the catalog …")
        run_in_thread(lambda: session_ops.list_sessions(self.db_url), self._show_rows, self._failed)

    def _show_rows(self, rows) -> None:
        self.state.rows = rows
        current = self.participant_filter.currentData()
        self.participant_filter.blockSignals(True)
        self.participant_filter.clear()
        self.participant_filter.addItem("all participants", None)
        for p in sorted({r.get("participant") for r in rows if r.get("participant")}):
            n = sum(1 for r in rows if r.get("participant") == p)
            self.participant_filter.addItem(f"{p} ({n})", p)
        idx = self.participant_filter.findData(current)
        self.participant_filter.setCurrentIndex(max(0, idx))
        self.participant_filter.blockSignals(False)
        self._apply_filter()
        n_int = sum(1 for r in rows if r["status"] == "interrupted")
        n_abort = sum(1 for r in rows if r["status"] == "aborted")
        n_bad = sum(1 for r in rows if (r.get("health") or {}).get("verdict") == "bad")
        self.info.setText(f"{len(rows)} session(s)" + (f", {n_int} interrupted" if n_int else "")
                          + (f", {n_abort} aborted" if n_abort else "") + (f", {n_bad} bad" if n_bad else ""))

    def _visible_rows(self) -> list[dict]:
        q = self.search.text().strip().lower()
        st = self.status_filter.currentData()
        who = self.participant_filter.currentData()
        out = []
        for r in self.state.rows:
            if st and st.startswith("health:"):
                if (r.get("health") or {}).get("verdict") != st.split(":", 1)[1]:
                    continue
            elif st and r["status"] != st:
                continue
            if who and r.get("participant") != who:
                continue
            hay = " ".join(str(r.get(k) or "") for k in ("participant", "protocol", "folder", "session_id")).lower()
            hay += " " + " ".join(r.get("streams") or []).lower()
            if q and q not in hay:
                continue
            out.append(r)
        return out

    def _apply_filter(self, *_):
        rows = self._visible_rows()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            drops = (r.get("dropped_frames") or 0) + (r.get("dropped_samples") or 0)
            vals = (str(r.get("started_at") or "")[:19].replace("T", " "), r.get("participant") or "-",
                    r.get("protocol") or "-", format_status(r), format_health_cell(r, width=60),
                    _fmt_duration(r.get("duration_s")),
                    ", ".join(x for x in (r.get("streams") or []) if not _is_own_stream(x)), str(drops), _fmt_size(r.get("disk_bytes")), r["folder"])
            for c, v in enumerate(vals):
                item = QTableWidgetItem(v)
                item.setData(Qt.UserRole, r["session_id"])
                if COLUMNS[c] == "status":
                    item.setForeground(QColor(status_colour(r)))
                    if r.get("status_detail"):
                        item.setToolTip(r["status_detail"])
                if COLUMNS[c] == "health":
                    health = r.get("health") or {}
                    item.setForeground(QColor(HEALTH_COLOURS.get(health.get("verdict"), NOT_CHECKED)))
                    item.setToolTip("\n".join(health.get("reasons") or []) or
                                    ("no problems found" if health else "not checked since the catalog had "
                                     "health: Re-check"))
                if COLUMNS[c] == "drops" and drops:
                    item.setForeground(QColor("#d33"))
                self.table.setItem(i, c, item)
        self.table.setSortingEnabled(True)

    def selected(self) -> dict | None:
        items = self.table.selectedItems()
        if not items:
            return None
        sid = items[0].data(Qt.UserRole)
        return next((r for r in self.state.rows if r["session_id"] == sid), None)

    def select_session(self, session_id: str) -> bool:
        for i in range(self.table.rowCount()):
            if self.table.item(i, 0).data(Qt.UserRole) == session_id:
                self.table.selectRow(i)
                return True
        return False

    # -- actions --------------------------------------------------------------------------------
    def open_folder(self) -> None:
        r = self.selected()
        if r:
            QDesktopServices.openUrl(QUrl.fromLocalFile(r["folder"]))

    def _analyze(self) -> None:
        r = self.selected()
        if r and self.open_in_analyze:
            self.open_in_analyze(Path(r["folder"]))

    def _annotate(self) -> None:
        r = self.selected()
        if r and self.open_in_annotate:
            self.open_in_annotate(Path(r["folder"]))

    def show_responses(self) -> None:
        """The selected session's self-report answers (catalog rows) in a dialog."""
        from app.gui.widgets.responses_dialog import ResponsesDialog

        r = self.selected()
        if not r:
            return

        def done(rows):
            if not rows:
                self.info.setText(f"{r['session_id'][:8]}: no self-report answers in the catalog")
                return
            self.responses_dialog = ResponsesDialog(r, rows, self)
            self.responses_dialog.show()

        run_in_thread(lambda: session_ops.responses(r["session_id"], self.db_url), done, self._failed)

    def recheck(self) -> None:
        r = self.selected()
        if not r:
            return
        self.info.setText(f"checking {r['folder']} …")
        run_in_thread(lambda: session_ops.recheck(Path(r["folder"]), self.db_url), self._rechecked, self._failed)

    def _rechecked(self, report) -> None:
        from acquisition.health import format_health

        text = "OK" if report["ok"] else "NOT OK — " + format_health(report.get("health"), limit=3)
        warnings = report.get("catalog_warnings") or []
        if warnings:
            text += f" · catalog: {warnings[0]}" + (f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else "")
        self.info.setText(f"{report['path']}: {report['status']} — {text}")
        self.last_report = report
        self.refresh()

    def delete(self, *, confirm=None) -> bool:
        """Ask, then remove from the catalog (and the files only when that box is ticked)."""
        r = self.selected()
        if not r:
            return False
        box = QMessageBox(QMessageBox.Warning, "Delete session",
                          f"Remove session {r['session_id'][:8]} ({r.get('participant') or '-'}, "
                          f"{r['folder']}) from the catalog?", QMessageBox.Yes | QMessageBox.Cancel, self)
        also_files = QCheckBox("Also delete the session folder and its files from disk (cannot be undone)")
        box.setCheckBox(also_files)
        answer = confirm(box) if confirm else box.exec()
        if answer != QMessageBox.Yes:
            self.info.setText("nothing deleted")
            return False
        session_ops.delete_session(r["session_id"], self.db_url, delete_files=also_files.isChecked())
        self.info.setText(f"deleted {r['session_id'][:8]} from the catalog" +
                          (" and its files" if also_files.isChecked() else " (files kept)"))
        self.refresh()
        return True

    def _failed(self, message: str) -> None:
        self.info.setText(f"error: {message}")
