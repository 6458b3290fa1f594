"""The Analyze workspace: spotting on a session (progress bar; intervals on a timeline with AU traces,
head pose and EMG; jump to a frame) and its physiology (the report's timeline figure; the study
figures over the sessions of the same protocol). A view of :class:`analysis.analyze_model.AnalyzeModel`
(the session, the spotting result and the class each interval was recognised as, the physiology,
the study selection), which tests drive without a display.

The session combo shows the session open (however it was opened); a running spotting can be
cancelled (the worker stops at its next progress report); the apex preview is cropped to the face
the spotting found; a double-click on an interval opens it in Annotate at its onset
(:attr:`AnalyzeWorkspace.open_in_annotate`); every plot names its axes and units."""

from __future__ import annotations

import html
import threading
from pathlib import Path

import numpy as np
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
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from acquisition.session_read.names import RGB_NAME
from analysis.analyze_model import (  # noqa: F401
    COLUMNS,
    STUDY_VIEWS,
    AnalyzeModel,
    SpottingCancelled,
    face_crop,
)
from app.gui.widgets.preview import FramePreview
from app.gui.workers import run_in_thread
from app.services import session_ops

COLOURS = {"micro": (220, 40, 40, 70), "macro": (40, 90, 220, 60), "suppressed": (120, 120, 120, 50)}
PLACEHOLDER = "choose a session …"
SHOW_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU26", "AU45")


class AnalyzeWorkspace(QWidget):
    progress_changed = Signal(int, int, str)
    session_opened = Signal(object)  # Path: a session was opened here
    open_in_annotate = Signal(object, int)  # (session folder, frame): double-click on an interval

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.db_url = db_url
        self.model = AnalyzeModel()
        self.last_error: str | None = None
        self.jumped_to: int | None = None
        self.cropped_to: tuple[int, int] | None = None  # (h, w) of the apex preview's crop
        self._cancel: threading.Event | None = None
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
        self.health = QLabel("")  # the session's status and health verdict, as in the Sessions list
        self.health.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.health)
        lay.addWidget(self.tabs, 1)
        self.progress_changed.connect(self._progress)

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

    def _fill(self, rows) -> None:
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
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
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
        lay.addWidget(self.info)
        lay.addWidget(split, 1)
        return w

    def run_spotting(self) -> None:
        if self.folder is None:
            return
        ie = self.ie.isChecked()
        cancel = self._cancel = threading.Event()
        self.run_btn.setEnabled(False)
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
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self._cancel = None
        self.bar.setValue(self.bar.maximum())
        self.bar.setFormat("done")
        self.info.setText(self.model.summary())
        self._draw(result)
        rows = self.model.rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(str(v)))

    def _draw(self, result) -> None:
        from analysis.face.aus import AU_NAMES, au_proxies

        self.plot.clear()
        feat = result.features
        n = result.n_frames
        x = np.arange(n)
        p_au = self.plot.addPlot(row=0, col=0, title="AU intensity proxies (blendshapes)")
        p_au.setLabel("left", "AU proxy (0-1)")
        p_au.addLegend(offset=(-10, 5), labelTextSize="7pt")
        if feat is not None:
            aus = au_proxies(np.nan_to_num(feat.blendshapes))
            for k, name in enumerate(AU_NAMES):
                if name in SHOW_AUS:
                    p_au.plot(x, aus[:, k], pen=pg.intColor(k, hues=len(AU_NAMES)), name=name)
        p_pose = self.plot.addPlot(row=1, col=0, title="head pose")
        p_pose.setLabel("left", "angle (deg)")
        p_pose.addLegend(offset=(-10, 5), labelTextSize="7pt")
        p_pose.setXLink(p_au)
        if feat is not None:
            for k, name in enumerate(("yaw", "pitch", "roll")):
                p_pose.plot(x, feat.pose[:, k], pen=pg.intColor(k, hues=3), name=name)
        p_emg = self.plot.addPlot(row=2, col=0, title="EMG envelope (per channel, scaled)")
        p_emg.setLabel("left", "envelope / its 99th pct")
        p_emg.setLabel("bottom", f"frame of {RGB_NAME} (at {result.fps:g} fps)")
        for p in (p_au, p_pose):
            p.setLabel("bottom", "frame")
        p_emg.setXLink(p_au)
        self._draw_emg(p_emg)
        self._apex_lines = []
        for p in (p_au, p_pose, p_emg):
            for i in result.intervals:
                p.addItem(
                    pg.LinearRegionItem(
                        (i["onset"], i["offset"] + 1), movable=False, brush=pg.mkBrush(*COLOURS[i["type"]])
                    )
                )
            for s in result.suppressed:
                p.addItem(
                    pg.LinearRegionItem(
                        (s["onset"], s["offset"] + 1), movable=False, brush=pg.mkBrush(*COLOURS["suppressed"])
                    )
                )
            line = pg.InfiniteLine(0, pen=pg.mkPen("y", width=2))
            p.addItem(line)
            self._apex_lines.append(line)

    def _draw_emg(self, plot) -> None:
        traces, note = self.model.emg_traces()
        if note:
            plot.setTitle(f"EMG envelope: {html.escape(note)}")
        for ch, t in enumerate(traces):
            plot.plot(t.frames, t.values, pen=pg.intColor(ch, hues=max(8, len(traces))))

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
        run_in_thread(self.model.run_physio, self._physio_done, self._failed)

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
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self._cancel = None
        if cancelled:
            self.info.setText(message)
            self.last_error = message
            return
        self.info.setText(f"error: {message}")
        self.physio_info.setText(f"error: {message}")
        self.last_error = message
