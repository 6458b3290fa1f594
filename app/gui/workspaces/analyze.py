"""The Analyze workspace: spotting on a session (progress bar; intervals on a timeline with AU traces,
head pose and EMG; jump to a frame) and its physiology (the report's timeline figure; the study
figures over the sessions of the same protocol). A view over analysis.spotting and analysis.study.

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
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)

from acquisition.errors import MexlabError
from app import session_ops
from app.gui.widgets.preview import FramePreview
from app.gui.workers import run_in_thread

COLOURS = {"micro": (220, 40, 40, 70), "macro": (40, 90, 220, 60), "suppressed": (120, 120, 120, 50)}
PLACEHOLDER = "choose a session …"
SHOW_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU26", "AU45")


def read_frame(video: Path, index: int) -> np.ndarray | None:
    """Frame ``index`` of a video as RGB (mexlab's FFV1 files are all-intra: one packet decode)."""
    import av

    with av.open(str(video)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate or 30)
        target = int(round(index / fps / s.time_base)) if s.time_base else 0
        c.seek(max(0, target), stream=s, backward=True, any_frame=False)
        for f in c.decode(s):
            if f.pts is None or f.time is None or int(round(f.time * fps)) >= index:
                return f.to_ndarray(format="rgb24")
    return None


def face_crop(img: np.ndarray, box, margin: float = 0.35) -> np.ndarray:
    """``img`` cropped to the face ``box`` (x0, y0, x1, y1 in the frame's pixels) with a margin on
    every side; the whole frame when the box is unknown (NaN) or empty."""
    if box is None:
        return img
    box = np.asarray(box, float)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        return img
    h, w = img.shape[:2]
    mx, my = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    x0, y0 = int(max(0, box[0] - mx)), int(max(0, box[1] - my))
    x1, y1 = int(min(w, box[2] + mx)), int(min(h, box[3] + my))
    return img[y0:y1, x0:x1] if (x1 - x0 > 4 and y1 - y0 > 4) else img


class SpottingCancelled(MexlabError):
    """The user pressed Cancel: the spotting stopped at its next progress report."""


class AnalyzeWorkspace(QWidget):
    progress_changed = Signal(int, int, str)
    session_opened = Signal(object)            # Path: a session was opened here
    open_in_annotate = Signal(object, int)     # (session folder, frame): double-click on an interval

    def __init__(self, db_url: str | None = None, parent=None):
        super().__init__(parent)
        self.db_url = db_url
        self.folder: Path | None = None
        self.result = None
        self.last_error: str | None = None
        self.jumped_to: int | None = None
        self.cropped_to: tuple[int, int] | None = None     # (h, w) of the apex preview's crop
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

    # -- session choice -------------------------------------------------------------------------
    def refresh(self) -> None:
        run_in_thread(lambda: session_ops.list_sessions(self.db_url), self._fill, self._failed)

    def _fill(self, rows) -> None:
        self.session.blockSignals(True)
        self.session.clear()
        self.session.addItem(PLACEHOLDER, None)
        for r in rows:
            label = f"{str(r.get('started_at') or '')[:16]}  {r.get('participant') or '-'}  " \
                    f"{r.get('protocol') or ''}  [{r['status']}]  {r['folder']}"
            self.session.addItem(label, r["folder"])
        self.session.blockSignals(False)
        self._show_in_combo()

    def _show_in_combo(self) -> None:
        """The combo says which session is open: its row, or one added for a folder not in the list."""
        if self.folder is None:
            return
        self.session.blockSignals(True)
        idx = next((i for i in range(1, self.session.count())
                    if self.session.itemData(i) and Path(self.session.itemData(i)) == self.folder), -1)
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
        self.folder = Path(folder)
        self.result = None
        self.info.setText(f"{self.folder}: press Run spotting")
        self.physio_info.setText(f"{self.folder}: press Analyse")
        self.table.setRowCount(0)
        self.plot.clear()
        self._show_in_combo()
        self.health.setText(f"{self.folder}: checking …")
        folder = self.folder
        run_in_thread(lambda: session_ops.session_health(folder, self.db_url),
                      lambda h: self._show_health(folder, h),
                      lambda m: self.health.setText(f"health not checked: {html.escape(str(m))}"))
        self.session_opened.emit(self.folder)

    def _show_health(self, folder: Path, h: dict) -> None:
        """One line: status and the health verdict (acquisition.health), the same as everywhere."""
        from acquisition.health import COLOURS, format_health

        if folder != self.folder:
            return
        status = h.get("status") or "unknown"
        verdict = format_health(h)
        self.health.setText(f"<b>{status}</b> · <span style='color:{COLOURS.get(h.get('verdict'), '#888')}'>"
                            f"health: {html.escape(verdict)}</span>")
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
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["type", "onset", "apex", "offset", "score", "AUs / reason"])
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
        from analysis.spotting.pipeline import spot

        folder, ie = self.folder, self.ie.isChecked()
        cancel = self._cancel = threading.Event()

        def progress(done, total, stage):
            if cancel.is_set():
                raise SpottingCancelled(f"spotting of {folder} cancelled at {stage} {done}/{total}; "
                                        "nothing was written")
            self.progress_changed.emit(done, total, stage)

        def work():   # spot() writes spotting.json only once complete: a cancelled run writes nothing
            return spot(folder, interference=ie, progress=progress)

        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.info.setText(f"spotting {folder} …")
        self.job = run_in_thread(work, self._spotted, self._failed)

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
        self.result = result
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self._cancel = None
        self.bar.setValue(self.bar.maximum())
        self.bar.setFormat("done")
        n_micro = sum(1 for i in result.intervals if i["type"] == "micro")
        self.info.setText(f"{len(result.intervals)} interval(s) ({n_micro} micro), {len(result.suppressed)} "
                          f"suppressed; {result.frames_with_face}/{result.n_frames} frames with a face"
                          + (f"; written to {result.written}" if result.written else ""))
        self._draw(result)
        rows = [(i["type"], i["onset"], i["apex"], i["offset"], f"{i['score']:.2f}", "+".join(i.get("aus") or []))
                for i in result.intervals]
        rows += [("suppressed", s["onset"], "", s["offset"], "", s["reason"]) for s in result.suppressed]
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
        p_emg.setLabel("bottom", f"frame of rgb.mkv (at {result.fps:g} fps)")
        for p in (p_au, p_pose):
            p.setLabel("bottom", "frame")
        p_emg.setXLink(p_au)
        self._draw_emg(p_emg)
        self._apex_lines = []
        for p in (p_au, p_pose, p_emg):
            for i in result.intervals:
                p.addItem(pg.LinearRegionItem((i["onset"], i["offset"] + 1), movable=False,
                                              brush=pg.mkBrush(*COLOURS[i["type"]])))
            for s in result.suppressed:
                p.addItem(pg.LinearRegionItem((s["onset"], s["offset"] + 1), movable=False,
                                              brush=pg.mkBrush(*COLOURS["suppressed"])))
            line = pg.InfiniteLine(0, pen=pg.mkPen("y", width=2))
            p.addItem(line)
            self._apex_lines.append(line)

    def _draw_emg(self, plot) -> None:
        if self.folder is None or not (self.folder / "recording.xdf").exists():
            return
        try:
            from analysis.physio.emg import emg_envelope
            from analysis.session_data import load

            data = load(self.folder)
            emg = data.of_kind("emg")
            idx = next((s for s in data.streams if s.name == "mexlab-rgb-frames" and s.n_samples > 1), None)
        except Exception:  # noqa: BLE001 - EMG is an extra on this view
            return
        if not emg or idx is None:
            return
        s = emg[0]
        order = np.argsort(idx.data[:, 0])
        frames, times = idx.data[order, 0].astype(float), idx.timestamps[order]
        fr = np.interp(s.timestamps, times, frames)
        for ch in range(s.data.shape[1]):
            env = np.asarray(emg_envelope(np.asarray(s.data[:, ch], float), s.fs), float)
            step = max(1, len(env) // 4000)
            y = env[::step] / (np.percentile(env, 99) or 1.0) - ch * 1.2
            plot.plot(fr[::step], y, pen=pg.intColor(ch, hues=max(8, s.data.shape[1])))

    def _jump(self) -> None:
        items = self.table.selectedItems()
        if not items or self.folder is None:
            return
        r = items[0].row()
        onset, apex = self.table.item(r, 1).text(), self.table.item(r, 2).text()
        frame = int(apex or onset)
        for line in getattr(self, "_apex_lines", []):
            line.setValue(frame)
        video = self.folder / "rgb.mkv" if self.folder.is_dir() else self.folder
        img = read_frame(video, frame)
        if img is not None:
            img = face_crop(img, self._face_box(frame))
            self.cropped_to = img.shape[:2]
            self.frame.show_rgb(img)
            self.frame.setToolTip(f"frame {frame}")
            self.jumped_to = frame

    def _face_box(self, frame: int):
        """The face box of the spotting's features at ``frame`` (None when unknown)."""
        feat = getattr(self.result, "features", None)
        boxes = feat.arrays.get("box") if feat is not None else None
        if boxes is None or not 0 <= frame < len(boxes):
            return None
        return boxes[frame]

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
        for key, text in (("group", "ME and physiology by group (95% CI)"), ("event", "event-locked heart rate"),
                          ("correlation", "ME measures vs physiology (Pearson)")):
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
        from analysis.report.plots import timeline_figure
        from analysis.study import analyse_session

        folder = self.folder
        self.physio_info.setText(f"analysing {folder} (heart rate, skin conductance, EMG) …")
        run_in_thread(lambda: (lambda sr: (sr, timeline_figure(sr)))(analyse_session(folder)),
                      self._physio_done, self._failed)

    def _physio_done(self, out) -> None:
        sr, fig = out
        pa = sr.physio
        bits = []
        d = pa.to_json() if hasattr(pa, "to_json") else {}
        if d.get("ecg"):
            bits.append(f"mean HR {d['ecg'].get('mean_hr_bpm', float('nan')):.1f} bpm ({d['ecg'].get('n_beats')} beats)")
        if d.get("eda"):
            bits.append(f"{d['eda'].get('n_scr')} SCRs")
        for kind, why in (getattr(pa, "missing", None) or {}).items():
            if kind in ("ecg", "eda") and not d.get(kind):
                bits.append(f"no {kind.upper()} ({why})")
        self.physio_info.setText(f"{self.folder}: " + ("; ".join(bits) or "no ECG or EDA stream"))
        self._show_figure(fig)
        self.physio_result = sr

    def run_study(self) -> None:
        if self.folder is None:
            return
        from analysis.study import analyse_study

        rows = session_ops.list_sessions(self.db_url)
        me = next((r for r in rows if Path(r["folder"]) == self.folder), None)
        proto = me.get("protocol") if me else None
        paths = [r["folder"] for r in rows if r.get("protocol") == proto and r["status"] == "complete"]
        self.physio_info.setText(f"study of {len(paths)} session(s) of protocol {proto or '(none)'} …")

        def work():
            return analyse_study(paths, by="condition" if proto else "protocol")

        run_in_thread(work, self._study_done, self._failed)

    def _study_done(self, study) -> None:
        self.study = study
        self._show_study_view()

    def _show_study_view(self, *_):
        from analysis.report.plots import correlation_figure, event_locked_figure, group_figure

        study = getattr(self, "study", None)
        if study is None:
            return
        view = self.study_view.currentData()
        if view == "event":
            fig = event_locked_figure(study)
        elif view == "correlation":
            fig = correlation_figure(study.table, study.correlations)
        else:
            fig = group_figure(study.table, study.by)
        if fig is None:
            self.physio_info.setText(f"study: not enough sessions or groups for the {self.study_view.currentText()} figure")
            return
        self.physio_info.setText(f"study: {len(study.table)} row(s), grouped by {study.by}; "
                                 f"{len(study.tests)} test(s), {len(study.correlations)} correlation(s)")
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
