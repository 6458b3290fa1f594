"""The Analyze workspace: spotting on a session (progress bar; intervals on a timeline with AU traces,
head pose and EMG: :mod:`app.gui.widgets.spotting_plot`; jump to a frame), recognition of the micro
intervals with a chosen model (:mod:`app.gui.widgets.recognise_bar`; `mexlab recognize`'s call, in a
worker) and the physiology (the report's timeline figure; the study figures over the sessions of the
same protocol). A view of :class:`analysis.analyze_model.AnalyzeModel`, which tests drive without a
display. A running spotting can be cancelled; the apex preview is cropped to the face; a
double-click on an interval opens it in Annotate at its onset (:attr:`open_in_annotate`).

The "Many sessions" tab analyses a study at once: the catalog's sessions chosen by participant,
protocol and status (``mexlab spot --participant … --protocol … --status …``'s selection), one action
(spotting, recognition, physiology) run by :func:`analysis.batch.run_batch` in worker processes, with
each session's progress, Cancel and a table of what became of each (done, skipped because current,
failed with the reason). Its state is :class:`app.services.analyze_batch.BatchRun` (no Qt)."""

from __future__ import annotations

import html
import threading
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from analysis.analyze_model import (  # noqa: F401
    COLUMNS,
    STUDY_VIEWS,
    AnalyzeModel,
    SpottingCancelled,
    face_crop,
    model_choices,
)
from app.gui.widgets.preview import FramePreview
from app.gui.widgets.recognise_bar import RecogniseBar
from app.gui.widgets.spotting_plot import draw_spotting
from app.gui.workers import run_in_thread
from app.services import analyze_batch, session_ops

PLACEHOLDER = "choose a session …"
ANY = {"participant": "any participant", "protocol": "any protocol", "status": "any status"}


class AnalyzeWorkspace(QWidget):
    progress_changed = Signal(int, int, str)
    batch_progress = Signal(object)  # (BatchRun, BatchStatus snapshot) from the batch's worker thread
    batch_finished = Signal(object)  # the BatchRun that just ended (tests wait on it)
    session_opened = Signal(object)  # Path: a session was opened here
    open_in_annotate = Signal(object, int)  # (session folder, frame): double-click on an interval

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.db_url = db_url
        self.model = AnalyzeModel()
        self.last_error: str | None = None
        self.jumped_to: int | None = None
        self.cropped_to: tuple[int, int] | None = None  # (h, w) of the apex preview's crop
        self.last_recognition: dict | None = None
        self._cancel: threading.Event | None = None
        self.catalog_rows: list[dict] = []
        self.batch: analyze_batch.BatchRun | None = None
        top = QHBoxLayout()
        self.session = QComboBox()
        self.session.setMinimumWidth(420)
        self.session.currentIndexChanged.connect(self._session_chosen)
        browse = QPushButton("Open folder…")
        browse.clicked.connect(self._browse)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top.addWidget(QLabel("Session"))
        top.addWidget(self.session, 1)
        top.addWidget(browse)
        top.addWidget(refresh)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._spotting_tab(), "Spotting")
        self.tabs.addTab(self._physio_tab(), "Physiology")
        self.tabs.addTab(self._batch_tab(), "Many sessions")
        self.health = QLabel("")  # the session's status and health verdict, as in the Sessions list
        self.health.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.health)
        lay.addWidget(self.tabs, 1)
        self.progress_changed.connect(self._progress)
        self.batch_progress.connect(self._batch_progress)

    @property
    def folder(self) -> Path | None:
        return self.model.folder

    @property
    def result(self):
        return self.model.result

    @property
    def study(self):
        return self.model.study

    @property
    def physio_result(self):
        return self.model.physio

    # -- session choice -------------------------------------------------------------------------
    def refresh(self) -> None:
        run_in_thread(lambda: session_ops.list_sessions(self.db_url), self._fill, self._failed)
        self.refresh_models()

    def _fill(self, rows) -> None:
        self.catalog_rows = list(rows)
        self._fill_selection()
        self.session.blockSignals(True)
        self.session.clear()
        self.session.addItem(PLACEHOLDER, None)
        for r in rows:
            label = (
                f"{str(r.get('started_at') or '')[:16]}  {r.get('participant') or '-'}  "
                f"{r.get('protocol') or ''}  [{r['status']}]  {r['folder']}"
            )
            self.session.addItem(label, r["folder"])
        self.session.blockSignals(False)
        self._show_in_combo()

    def _show_in_combo(self) -> None:
        """The combo says which session is open: its row, or one added for a folder not in the list."""
        if self.folder is None:
            return
        self.session.blockSignals(True)
        idx = next(
            (
                i
                for i in range(1, self.session.count())
                if self.session.itemData(i) and Path(self.session.itemData(i)) == self.folder
            ),
            -1,
        )
        if idx < 0:
            self.session.addItem(f"{self.folder}  (opened as a folder)", str(self.folder))
            idx = self.session.count() - 1
        self.session.setCurrentIndex(idx)
        self.session.blockSignals(False)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Session folder")
        if path:
            self.open_session(Path(path))

    def _session_chosen(self, *_):
        folder = self.session.currentData()
        if folder:
            self.open_session(Path(folder))

    def open_session(self, folder: Path) -> None:
        if self.folder is not None and Path(folder) == self.folder:
            self._show_in_combo()
            return
        self.cancel()
        self.model.open(Path(folder))
        self.info.setText(f"{self.folder}: press Run spotting")
        self.physio_info.setText(f"{self.folder}: press Analyse")
        self.table.setRowCount(0)
        self.plot.clear()
        self._show_in_combo()
        self.health.setText(f"{self.folder}: checking …")
        folder = self.folder
        run_in_thread(
            lambda: session_ops.session_health(folder, self.db_url),
            lambda h: self._show_health(folder, h),
            lambda m: self.health.setText(f"health not checked: {html.escape(str(m))}"),
        )
        self.session_opened.emit(self.folder)

    def _show_health(self, folder: Path, h: dict) -> None:
        """One line: status and the health verdict (acquisition.health), the same as everywhere."""
        from acquisition.health import COLOURS, format_health

        if folder != self.folder:
            return
        status = h.get("status") or "unknown"
        verdict = format_health(h)
        self.health.setText(
            f"<b>{status}</b> · <span style='color:{COLOURS.get(h.get('verdict'), '#888')}'>"
            f"health: {html.escape(verdict)}</span>"
        )
        self.health.setToolTip("\n".join(h.get("reasons") or []))

    # -- spotting -------------------------------------------------------------------------------
    def _spotting_tab(self) -> QWidget:
        w = QWidget()
        bar = QHBoxLayout()
        self.run_btn = QPushButton("Run spotting")
        self.run_btn.clicked.connect(self.run_spotting)
        self.cancel_btn = QPushButton("Cancel", enabled=False, toolTip="stop the running spotting")
        self.cancel_btn.clicked.connect(self.cancel)
        self.ie = QCheckBox("interference elimination (head motion, speech, blinks)")
        self.ie.setChecked(True)
        self.recog = RecogniseBar()
        self.recog.button.clicked.connect(self.run_recognition)
        self.bar = QProgressBar()
        self.bar.setFormat("%p% %v/%m")
        bar.addWidget(self.run_btn)
        bar.addWidget(self.cancel_btn)
        bar.addWidget(self.ie)
        bar.addWidget(self.bar, 1)
        self.info = QLabel("choose a session")
        self.info.setWordWrap(True)
        self.plot = pg.GraphicsLayoutWidget()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))  # the last: the class `mexlab recognize` gave
        for c, name in enumerate(COLUMNS):  # the AUs take the room left; the others (the class too) are read whole
            mode = QHeaderView.Stretch if name.startswith("AUs") else QHeaderView.ResizeToContents
            self.table.horizontalHeader().setSectionResizeMode(c, mode)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.itemSelectionChanged.connect(self._jump)
        self.table.cellDoubleClicked.connect(self._to_annotate)
        self.table.setToolTip("double-click: open the interval in Annotate at its onset")
        self.frame = FramePreview("apex frame")
        below = QSplitter()
        below.addWidget(self.table)
        below.addWidget(self.frame)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.plot)
        split.addWidget(below)
        split.setStretchFactor(0, 3)
        lay = QVBoxLayout(w)
        lay.addLayout(bar)
        lay.addWidget(self.recog)
        lay.addWidget(self.info)
        lay.addWidget(split, 1)
        return w

    def run_spotting(self) -> None:
        if self.folder is None:
            return
        ie = self.ie.isChecked()
        cancel = self._cancel = threading.Event()
        self._busy(True)
        self.cancel_btn.setEnabled(True)
        self.info.setText(f"spotting {self.folder} …")
        self.job = run_in_thread(
            lambda: self.model.run_spotting(ie, self.progress_changed.emit, cancel), self._spotted, self._failed
        )

    def cancel(self) -> None:
        """Stop the running spotting (the worker raises at its next progress report)."""
        if self._cancel is not None and not self._cancel.is_set():
            self._cancel.set()
            self.info.setText("cancelling …")
        self.cancel_btn.setEnabled(False)

    def _progress(self, done: int, total: int, stage: str) -> None:
        self.bar.setMaximum(max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"{stage} %v/%m")

    def _spotted(self, result) -> None:
        self.model.set_result(result)
        self._busy(False)
        self.cancel_btn.setEnabled(False)
        self._cancel = None
        self.bar.setValue(self.bar.maximum())
        self.bar.setFormat("done")
        self.info.setText(self.model.summary())
        self._apex_lines = draw_spotting(self.plot, result, self.model)
        self._fill_table()

    def _fill_table(self) -> None:
        rows = self.model.rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(str(v)))

    # -- recognition ----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        db = self.db_url
        run_in_thread(lambda: model_choices(db), lambda out: self.recog.fill(*out), self._failed)

    def run_recognition(self) -> None:
        """Classify the micro intervals with the chosen model (a worker; `mexlab recognize`'s call)."""
        if self.folder is None:
            return
        self.model.model_path = self.recog.chosen()
        self._busy(True)
        self.info.setText(f"recognising the micro-expressions of {self.folder} …")
        folder = self.folder
        self.job = run_in_thread(
            lambda: self.model.run_recognition(self.progress_changed.emit, folder),
            lambda res: self._recognised(folder, res),
            self._failed,
        )

    def _busy(self, busy: bool) -> None:
        for b in (self.run_btn, self.recog.button):  # one spotting or recognition at a time
            b.setEnabled(not busy)

    def _recognised(self, folder: Path, res: dict) -> None:
        self._busy(False)
        if folder != self.folder:
            return
        self.model.set_recognition(res)
        self.last_recognition = res
        self.bar.setFormat("done")
        self.info.setText(self.model.recognition_summary(res))
        self._fill_table()

    def _jump(self) -> None:
        items = self.table.selectedItems()
        if not items or self.folder is None:
            return
        r = items[0].row()
        frame = AnalyzeModel.row_frame((None, self.table.item(r, 1).text(), self.table.item(r, 2).text()))
        for line in getattr(self, "_apex_lines", []):
            line.setValue(frame)
        img = self.model.frame_image(frame)
        if img is not None:
            self.cropped_to = img.shape[:2]
            self.frame.show_rgb(img)
            self.frame.setToolTip(f"frame {frame}")
            self.jumped_to = frame
        elif self.model.notes:
            self.info.setText(self.model.notes[-1])

    def _to_annotate(self, row: int, _col: int = 0) -> None:
        if self.folder is None or self.table.item(row, 1) is None:
            return
        self.open_in_annotate.emit(self.folder, int(self.table.item(row, 1).text()))

    # -- physiology -----------------------------------------------------------------------------
    def _physio_tab(self) -> QWidget:
        w = QWidget()
        bar = QHBoxLayout()
        self.physio_btn = QPushButton("Analyse")
        self.physio_btn.clicked.connect(self.run_physio)
        self.study_btn = QPushButton("Study: all sessions of this protocol")
        self.study_btn.clicked.connect(self.run_study)
        self.study_view = QComboBox()
        for key, text in STUDY_VIEWS:
            self.study_view.addItem(text, key)
        self.study_view.currentIndexChanged.connect(self._show_study_view)
        bar.addWidget(self.physio_btn)
        bar.addWidget(self.study_btn)
        bar.addWidget(self.study_view)
        bar.addStretch(1)
        self.physio_info = QLabel("choose a session")
        self.physio_info.setWordWrap(True)
        self.figure_holder = QVBoxLayout()
        lay = QVBoxLayout(w)
        lay.addLayout(bar)
        lay.addWidget(self.physio_info)
        lay.addLayout(self.figure_holder, 1)
        self.canvas = None
        return w

    def _show_figure(self, fig) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

        if self.canvas is not None:
            self.canvas.setParent(None)
        self.canvas = FigureCanvasQTAgg(fig)
        self.figure_holder.addWidget(self.canvas)

    def run_physio(self) -> None:
        if self.folder is None:
            return
        self.physio_info.setText(f"analysing {self.folder} (heart rate, skin conductance, EMG) …")
        run_in_thread(self.model.run_physio, self._physio_done, self._failed)  # cached when current

    def _physio_done(self, out) -> None:
        sr, fig = out
        self.physio_info.setText(self.model.physio_summary(sr))
        self._show_figure(fig)

    def run_study(self) -> None:
        if self.folder is None:
            return
        proto, paths = self.model.study_selection(session_ops.list_sessions(self.db_url))
        self.physio_info.setText(f"study of {len(paths)} session(s) of protocol {proto or '(none)'} …")
        run_in_thread(lambda: AnalyzeModel.run_study(paths, proto), self._study_done, self._failed)

    def _study_done(self, study) -> None:
        self.model.study = study
        self._show_study_view()

    def _show_study_view(self, *_):
        fig, text = self.model.study_figure(self.study_view.currentData(), self.study_view.currentText())
        if text:
            self.physio_info.setText(text)
        if fig is not None:
            self._show_figure(fig)

    def _failed(self, message: str) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        self._busy(False)
        self.cancel_btn.setEnabled(False)
        self._cancel = None
        if cancelled:
            self.info.setText(message)
            self.last_error = message
            return
        self.info.setText(f"error: {message}")
        self.physio_info.setText(f"error: {message}")
        self.last_error = message

    # -- many sessions ----------------------------------------------------------------------------
    def _batch_tab(self) -> QWidget:
        from analysis.batch import default_workers, max_workers

        w = QWidget()
        pick = QHBoxLayout()
        self.sel = {}
        for key in ("participant", "protocol", "status"):
            combo = QComboBox()
            combo.setMinimumWidth(150)
            combo.currentIndexChanged.connect(self._selection_changed)
            self.sel[key] = combo
        self.selected_label = QLabel("")
        pick.addWidget(QLabel("Sessions of"))
        for combo in self.sel.values():
            pick.addWidget(combo)
        pick.addWidget(self.selected_label, 1)
        act = QHBoxLayout()
        self.batch_action = QComboBox()
        for key, text in analyze_batch.ACTIONS:
            self.batch_action.addItem(text, key)
        self.batch_workers = QSpinBox(minimum=1, maximum=max_workers(), value=default_workers())
        self.batch_workers.setToolTip("worker processes (1: one session after another in this program)")
        self.batch_force = QCheckBox("recompute current results")
        self.batch_force.setToolTip(
            "by default a session whose result was made from the same files, parameters and code is skipped"
        )
        self.batch_run_btn = QPushButton("Analyse the sessions")
        self.batch_run_btn.clicked.connect(self.run_batch)
        self.batch_cancel_btn = QPushButton("Cancel", enabled=False, toolTip="stop the sessions queued and running")
        self.batch_cancel_btn.clicked.connect(self.cancel_batch)
        act.addWidget(self.batch_action, 1)
        act.addWidget(QLabel("workers"))
        act.addWidget(self.batch_workers)
        act.addWidget(self.batch_force)
        act.addWidget(self.batch_run_btn)
        act.addWidget(self.batch_cancel_btn)
        self.batch_bar = QProgressBar()
        self.batch_bar.setRange(0, 1000)
        self.batch_bar.setFormat("")
        self.batch_info = QLabel(
            "choose the sessions and the analysis; the spotting uses the interference setting of the "
            "Spotting tab, the recognition its model"
        )
        self.batch_info.setWordWrap(True)
        self.batch_table = QTableWidget(0, len(analyze_batch.COLUMNS))
        self.batch_table.setHorizontalHeaderLabels(list(analyze_batch.COLUMNS))
        hdr = self.batch_table.horizontalHeader()
        for c in range(len(analyze_batch.COLUMNS) - 1):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        hdr.setSectionResizeMode(len(analyze_batch.COLUMNS) - 1, QHeaderView.Stretch)
        self.batch_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.batch_table.setSelectionBehavior(QTableWidget.SelectRows)
        self.batch_table.setWordWrap(True)
        self.batch_table.cellDoubleClicked.connect(self._batch_open)
        self.batch_table.setToolTip("double-click: open the session in the Spotting tab")
        lay = QVBoxLayout(w)
        lay.addLayout(pick)
        lay.addLayout(act)
        lay.addWidget(self.batch_bar)
        lay.addWidget(self.batch_info)
        lay.addWidget(self.batch_table, 1)
        self._fill_selection()
        return w

    def _fill_selection(self) -> None:
        """The participant, protocol and status choices from the catalog's rows (choice kept)."""
        if not hasattr(self, "sel"):
            return
        values = analyze_batch.choices(self.catalog_rows)
        for key, combo in self.sel.items():
            keep = combo.currentData() if combo.count() else None
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(ANY[key], None)
            for v in values[key]:
                combo.addItem(v or "(no protocol)", v)
            idx = combo.findData(keep) if keep is not None else 0
            combo.setCurrentIndex(max(idx, 0))
            combo.blockSignals(False)
        self._selection_changed()

    def selection(self) -> analyze_batch.Selection:
        return analyze_batch.Selection(**{k: c.currentData() for k, c in self.sel.items()})

    def _selection_changed(self, *_):
        n = len(analyze_batch.preview(self.catalog_rows, self.selection()))
        self.selected_label.setText(f"{n} session(s) in the catalog")

    def run_batch(self) -> None:
        """Select the sessions (the catalog query of the CLI), then run the action on each in a worker."""
        if not self.batch_run_btn.isEnabled():  # one batch at a time
            return
        sel, db = self.selection(), self.db_url
        action = self.batch_action.currentData()
        params = {"interference": self.ie.isChecked()} if action == "spot" else {}
        if action == "recognize":
            params["model"] = self.recog.chosen()
        self.batch = None
        self.batch_run_btn.setEnabled(False)
        self.batch_info.setText(f"selecting {sel.describe()} …")
        run_in_thread(
            lambda: analyze_batch.select(db, sel),
            lambda paths: self._batch_start(action, paths, params),
            self._batch_failed,
        )

    def _batch_start(self, action: str, paths, params: dict) -> None:
        batch = self.batch = analyze_batch.BatchRun.of(action, paths, self.catalog_rows, **params)
        workers, force = self.batch_workers.value(), self.batch_force.isChecked()
        self.batch_cancel_btn.setEnabled(True)
        self.batch_bar.setValue(0)
        self._batch_show()

        def report(st) -> None:
            try:
                self.batch_progress.emit((batch, st))
            except RuntimeError:  # the window was closed: nobody to show it to, stop the batch
                batch.stop()

        run_in_thread(
            lambda: batch.run(workers=workers, force=force, on_progress=report),
            lambda res: self._batch_done(batch, res),
            self._batch_failed,
        )

    def cancel_batch(self) -> None:
        if self.batch is not None and self.batch.running:
            self.batch.stop()
            self.batch_cancel_btn.setEnabled(False)
            self._batch_show()

    def _batch_progress(self, item) -> None:
        batch, st = item
        if batch is not self.batch or not batch.running:
            return
        batch.apply(st)
        self._batch_show()

    def _batch_done(self, batch, res) -> None:
        batch.finish(res)
        if batch is self.batch:
            self.batch_run_btn.setEnabled(True)
            self.batch_cancel_btn.setEnabled(False)
            self._batch_show()
        self.batch_finished.emit(batch)

    def _batch_failed(self, message: str) -> None:
        self.batch_run_btn.setEnabled(True)
        self.batch_cancel_btn.setEnabled(False)
        self.batch_info.setText(f"error: {message}")
        self.last_error = message

    def _batch_show(self) -> None:
        b = self.batch
        if b is None:
            return
        self.batch_bar.setValue(round(1000 * (1.0 if b.result is not None else b.status.fraction)))
        self.batch_bar.setFormat(f"{b.status.finished}/{b.status.total} sessions  %p%")
        self.batch_info.setText(b.status_line())
        rows = b.table()
        self.batch_table.setRowCount(len(rows))
        colours = {"done": "#2a7", "skipped": "#777", "failed": "#d33", "cancelled": "#b70"}
        for r, cells in enumerate(rows):
            for c, v in enumerate(cells):
                item = self.batch_table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.batch_table.setItem(r, c, item)
                if c == 0:  # the folder's name; its path in the tooltip and the item's data
                    item.setData(Qt.UserRole, v)
                    item.setToolTip(v)
                    v = Path(v).name
                item.setText(v)
                if c == 2:
                    item.setForeground(pg.mkColor(colours.get(b.rows[r].state, "#222")))
                if c == len(cells) - 1:
                    item.setToolTip(v)

    def _batch_open(self, row: int, _col: int = 0) -> None:
        item = self.batch_table.item(row, 0)
        if item is not None and item.data(Qt.UserRole):
            self.open_session(Path(item.data(Qt.UserRole)))
            self.tabs.setCurrentIndex(0)
