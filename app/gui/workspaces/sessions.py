"""The Sessions workspace: the catalog — participants, sessions with status (aborted: the step reached
in its tooltip), health (the check's verdict, acquisition.health; reasons in its tooltip), duration,
protocol, streams, drops and size; search and filter; open the folder; re-check; delete only after asking.

The list's state (rows, filters, selection) and what each cell shows are Qt-free
(:class:`app.services.state.SessionsState`, :func:`app.services.state.session_cells`); this widget renders them and
writes the user's filters and selection there."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.workers import run_in_thread
from app.services import session_ops
from app.services.state import (
    HEALTH_FILTERS,
    SESSION_COLUMNS,
    STATUS_FILTERS,
    SessionsState,
    session_cells,
    status_colour,  # noqa: F401 - re-exported (the colour rule's old home)
)

COLUMNS = SESSION_COLUMNS


class SessionsWorkspace(QWidget):
    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.db_url = db_url
        self.state = SessionsState()
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("search participant, protocol, folder, stream …")
        self.search.textChanged.connect(lambda text: setattr(self.state, "search", text))
        self.status_filter = QComboBox()
        self.status_filter.addItem("all statuses", None)
        for s in STATUS_FILTERS:
            self.status_filter.addItem(s, s)
        for v in HEALTH_FILTERS:
            self.status_filter.addItem(f"health: {v}", f"health:{v}")
        self.status_filter.currentIndexChanged.connect(
            lambda *_: setattr(self.state, "status_filter", self.status_filter.currentData())
        )
        self.participant_filter = QComboBox()
        self.participant_filter.addItem("all participants", None)
        self.participant_filter.currentIndexChanged.connect(
            lambda *_: setattr(self.state, "participant", self.participant_filter.currentData())
        )
        for ev in (self.state.events.search, self.state.events.status_filter, self.state.events.participant):
            ev.connect(self._apply_filter)
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
        self.table.itemSelectionChanged.connect(self._picked)
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
        for b in (
            self.open_btn,
            self.recheck_btn,
            self.analyze_btn,
            self.annotate_btn,
            self.responses_btn,
            self.delete_btn,
        ):
            bottom.addWidget(b)
        bottom.addWidget(self.info, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)

    # -- data -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.info.setText("loading the catalog …")
        run_in_thread(lambda: session_ops.list_sessions(self.db_url), self._show_rows, self._failed)

    def _show_rows(self, rows) -> None:
        self.state.set_rows(rows)
        self.participant_filter.blockSignals(True)
        self.participant_filter.clear()
        self.participant_filter.addItem("all participants", None)
        for p, n in self.state.participants():
            self.participant_filter.addItem(f"{p} ({n})", p)
        self.participant_filter.setCurrentIndex(max(0, self.participant_filter.findData(self.state.participant)))
        self.participant_filter.blockSignals(False)
        self._apply_filter()
        self.info.setText(self.state.summary())

    def _apply_filter(self, *_) -> None:
        """Fill the table with the model's visible rows; the model's selection stays selected."""
        rows = self.state.visible()
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        self.table.clearSelection()
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for c, (text, colour, tip) in enumerate(session_cells(r)):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, r["session_id"])
                if colour:
                    item.setForeground(QColor(colour))
                if tip:
                    item.setToolTip(tip)
                self.table.setItem(i, c, item)
        self.table.setSortingEnabled(True)
        self.table.blockSignals(False)
        if not self._select_row(self.state.selected):
            self.state.selected = None

    def _picked(self) -> None:
        items = self.table.selectedItems()
        self.state.select(items[0].data(Qt.UserRole) if items else None)

    def _select_row(self, session_id: str | None) -> bool:
        for i in range(self.table.rowCount()):
            if session_id is not None and self.table.item(i, 0).data(Qt.UserRole) == session_id:
                self.table.selectRow(i)
                return True
        return False

    def selected(self) -> dict | None:
        return self.state.selected_row()

    def select_session(self, session_id: str) -> bool:
        return self._select_row(session_id)

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
        box = QMessageBox(
            QMessageBox.Warning,
            "Delete session",
            f"Remove session {r['session_id'][:8]} ({r.get('participant') or '-'}, {r['folder']}) from the catalog?",
            QMessageBox.Yes | QMessageBox.Cancel,
            self,
        )
        also_files = QCheckBox("Also delete the session folder and its files from disk (cannot be undone)")
        box.setCheckBox(also_files)
        answer = confirm(box) if confirm else box.exec()
        if answer != QMessageBox.Yes:
            self.info.setText("nothing deleted")
            return False
        session_ops.delete_session(r["session_id"], self.db_url, delete_files=also_files.isChecked())
        self.info.setText(
            f"deleted {r['session_id'][:8]} from the catalog"
            + (" and its files" if also_files.isChecked() else " (files kept)")
        )
        self.refresh()
        return True

    def _failed(self, message: str) -> None:
        self.info.setText(f"error: {message}")
