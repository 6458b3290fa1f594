"""The time-series tracks under the annotation video: EMG per channel at full rate (a min/max
envelope when zoomed out, so no burst is ever decimated away), ECG with heart rate, EDA, protocol
markers, spotted intervals, AU proxy traces, coded events and candidates; one time axis (seconds
from the first video frame) that follows the playhead.

Every track has a minimum height (:data:`MIN_HEIGHT`) and its name written inside the plot
(horizontal, top left) rather than on a rotated axis label, so eight EMG channels never squeeze the
names into each other: the widget grows and the workspace scrolls it (:class:`TrackScroll`). Each
name carries its unit (``EMG zygomaticus (µV)``, ``EDA (µS)``, ``HR (bpm)``, from the XDF's channel
metadata). Under the scrolled tracks, always in view, :class:`TimeAxis` labels the time (s from the
first frame) and the frame number of the visible window, so the zoom can be read.

What is drawn comes from a Qt-free :class:`analysis.annotation.track_set.TrackSet`
(:meth:`Tracks.show_track_set`); the window shown and how it follows the playhead from a
:class:`analysis.annotation.track_set.TrackWindow`."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QScrollArea

from analysis.annotation.track_set import TrackSet, TrackWindow
from app.gui.widgets.traces import minmax_envelope  # the live traces' min/max envelope

EVENT_BRUSH = {"accepted": (40, 160, 90, 70), "candidate": (230, 160, 20, 60), "rejected": (150, 150, 150, 30)}
SPOT_BRUSH = {"micro": (150, 60, 200, 110), "macro": (60, 110, 220, 90)}
AU_COLORS = ((200, 30, 30), (30, 120, 200), (20, 150, 60), (220, 130, 0), (140, 60, 180), (90, 90, 90))
MIN_HEIGHT = 56  # px of a track (plot area + its margins); the markers track too


def _spread_sample(x: np.ndarray, blocks: int = 64, block: int = 4096) -> np.ndarray:
    """Up to ``blocks`` runs of ``block`` consecutive samples spread evenly over ``x`` (all of a short
    series): what a track's y-range is taken from without reading an hour of EMG."""
    if x.size <= blocks * block:
        return np.asarray(x)
    starts = np.linspace(0, x.size - block, blocks).astype(np.int64)
    return np.concatenate([np.asarray(x[i : i + block]) for i in starts])


class Tracks(pg.GraphicsLayoutWidget):
    seek_requested = Signal(float)  # seconds from the first frame
    WINDOW_S = 6.0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self._series: list[tuple[pg.PlotDataItem, np.ndarray, np.ndarray, float]] = []
        self._plots: list[pg.PlotItem] = []
        self._playheads: list[pg.InfiniteLine] = []
        self._regions: list = []
        self.window = TrackWindow(self.WINDOW_S)
        self.spotted: list = []
        self.selected_span: tuple[float, float] | None = None
        self.notes: list[str] = []  # what could not be drawn, and why
        self.time_axis = None  # TimeAxis, linked to the first plot when there is one

    def clear_tracks(self) -> None:
        self.clear()
        self._series, self._plots, self._playheads, self._regions = [], [], [], []
        self.spotted, self.notes = [], []

    def _plot(self, label: str, height: int = 60) -> pg.PlotItem:
        p = self.addPlot(row=len(self._plots), col=0)
        p.getAxis("left").setWidth(52)
        p.setMouseEnabled(x=True, y=False)
        p.hideButtons()
        p.setMaximumHeight(max(height, MIN_HEIGHT) * 2)
        p.setMinimumHeight(max(height, MIN_HEIGHT))
        name = pg.TextItem(label, color=(20, 20, 20), anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 190))
        name.setParentItem(p.vb)  # fixed in the plot's corner, not in data coordinates
        name.setPos(2, 0)
        p.track_name = label
        if self._plots:
            p.setXLink(self._plots[0])
            self._plots[-1].getAxis("bottom").setStyle(showValues=False)
        else:
            p.sigXRangeChanged.connect(lambda *_: self._redraw())
            if self.time_axis is not None:
                self.time_axis.link(p.vb)
        line = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("r", width=1.5))
        p.addItem(line)
        p.scene().sigMouseClicked.connect(self._clicked) if not self._plots else None
        self._playheads.append(line)
        self._plots.append(p)
        self._fit_height()
        return p

    def _fit_height(self) -> None:
        """Tall enough for every track at its minimum height (the scroll area scrolls the rest)."""
        lay = self.ci.layout
        spacing = lay.verticalSpacing() if lay.verticalSpacing() >= 0 else 6
        need = sum(int(p.minimumHeight()) for p in self._plots) + spacing * len(self._plots) + 60
        self.setMinimumHeight(need)

    def show_track_set(self, ts: TrackSet) -> None:
        """Draw ``ts`` (after :meth:`clear_tracks`); its notes become :attr:`notes`."""
        self.clear_tracks()
        for tr in ts.tracks:
            if tr.kind == "intervals":
                self.add_intervals(tr.label, tr.spans)
            elif tr.kind == "lines":
                self.add_lines(tr.label, tr.t, tr.lines)
            elif tr.kind == "markers":
                self.add_markers(tr.markers)
            else:
                self.add_series(tr.label, tr.t, tr.values, tr.colour, t_offset=tr.t_offset)
        self.notes = list(ts.notes)
        if self.time_axis is not None:
            self.time_axis.set_fps(ts.fps)
        self.show_window(0.0)

    def track_names(self) -> list[str]:
        return [getattr(p, "track_name", "") for p in self._plots]

    def add_series(
        self, label: str, t: np.ndarray, x: np.ndarray, color="k", height: int = 60, t_offset: float = 0.0
    ) -> pg.PlotItem:
        """One series; ``t - t_offset`` are its times (s from the first frame). ``t`` and ``x`` are
        used as they are (a memory-mapped hour of EMG is never copied: only the window shown is read)."""
        p = self._plot(label, height)
        item = p.plot(pen=pg.mkPen(color, width=1))
        self._series.append((item, np.asarray(t), np.asarray(x), float(t_offset)))
        finite = _spread_sample(np.asarray(x))
        finite = finite[np.isfinite(finite)]
        if finite.size:
            lo, hi = np.percentile(finite, [0.1, 99.9])
            p.setYRange(lo, hi if hi > lo else lo + 1, padding=0.1)
        return p

    def add_lines(self, label: str, t: np.ndarray, lines: dict[str, np.ndarray], height: int = 90) -> pg.PlotItem:
        """Several series in one track (AU proxies), each named in a legend."""
        p = self._plot(label, height)
        legend = p.addLegend(offset=(-4, 2), labelTextSize="7pt", colCount=len(lines), verSpacing=-8)
        legend.setLabelTextColor((30, 30, 30))
        for k, (name, x) in enumerate(lines.items()):
            item = p.plot(pen=pg.mkPen(AU_COLORS[k % len(AU_COLORS)], width=1.2), name=name)
            self._series.append((item, np.asarray(t, float), np.asarray(x, float), 0.0))
        p.setYRange(0, 1, padding=0.05)
        return p

    def add_intervals(self, label: str, spans: list[tuple[float, float, str, str]]) -> pg.PlotItem:
        """``(t0, t1, type, text)`` as coloured bands (spotted intervals), labelled."""
        p = self._plot(label, MIN_HEIGHT)
        p.getAxis("left").setTicks([[]])
        p.setYRange(0, 1, padding=0)
        for t0, t1, typ, text in spans:
            r = pg.LinearRegionItem(
                (t0, t1),
                movable=False,
                brush=SPOT_BRUSH.get(typ, SPOT_BRUSH["micro"]),
                pen=pg.mkPen((90, 40, 140), width=1),
            )
            p.addItem(r)
            if text:
                txt = pg.TextItem(text, color=(70, 20, 110), anchor=(0, 1))
                txt.setPos(t0, 0.05)
                p.addItem(txt)
        self.spotted = list(spans)
        return p

    def add_markers(self, markers: list[tuple[float, str]]) -> None:
        p = self._plot("markers", MIN_HEIGHT)
        p.getAxis("left").setTicks([[]])
        for t, text in markers:
            p.addItem(
                pg.InfiniteLine(
                    t,
                    angle=90,
                    pen=pg.mkPen((80, 80, 200), width=1),
                    label=text[:18],
                    labelOpts={"position": 0.8, "color": (60, 60, 160)},
                )
            )

    def set_events(self, spans: list[tuple[float, float, str, str]], selected: int | None = None) -> None:
        """``(t0, t1, status, label)``: shown on every plot's background, labelled on the last; the
        ``selected`` one (index) outlined in blue, the event the coding keys edit when inside it."""
        for p, r in self._regions:
            p.removeItem(r)
        self._regions = []
        if not self._plots:
            self._plot("events", MIN_HEIGHT)
        self.selected_span = spans[selected][:2] if selected is not None and 0 <= selected < len(spans) else None
        for i, (t0, t1, status, label) in enumerate(spans):
            pen = pg.mkPen((30, 90, 220), width=2) if i == selected else pg.mkPen(None)
            for k, p in enumerate(self._plots):
                r = pg.LinearRegionItem(
                    (t0, t1), movable=False, brush=EVENT_BRUSH.get(status, EVENT_BRUSH["accepted"]), pen=pen
                )
                r.setZValue(-10)
                p.addItem(r)
                self._regions.append((p, r))
                if k == len(self._plots) - 1 and label:
                    txt = pg.TextItem(label, color=(20, 90, 50), anchor=(0, 1))
                    txt.setPos(t0, p.viewRange()[1][0])
                    p.addItem(txt)
                    self._regions.append((p, txt))

    def show_window(self, t: float) -> None:
        x0, x1 = self.window.show(t)
        if self._plots:
            self._plots[0].setXRange(x0, x1, padding=0)
        self.set_playhead(t)

    def set_playhead(self, t: float) -> None:
        for line in self._playheads:
            line.setValue(t)
        if self._plots:
            moved = self.window.follow(t, tuple(self._plots[0].viewRange()[0]))
            if moved is not None:
                self._plots[0].setXRange(*moved, padding=0)

    def _redraw(self) -> None:
        if not self._plots:
            return
        x0, x1 = self._plots[0].viewRange()[0]
        px = max(100, int(self._plots[0].vb.width()))
        for item, t, x, off in self._series:
            tt, yy = minmax_envelope(t, x, x0 + off, x1 + off, px)
            item.setData(tt - off, yy)

    def _clicked(self, ev) -> None:
        if not self._plots:
            return
        pos = self._plots[0].vb.mapSceneToView(ev.scenePos())
        self.seek_requested.emit(float(pos.x()))


class TrackScroll(QScrollArea):
    """The tracks in a vertical scroll area: they keep their minimum heights however many there are."""

    def __init__(self, tracks: Tracks, parent=None):
        super().__init__(parent)
        self.setWidget(tracks)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumHeight(3 * MIN_HEIGHT)


class TimeAxis(pg.GraphicsLayoutWidget):
    """Two axes under the tracks, x-linked to them and lined up with their plot area: the time in s
    from the first video frame, and the frame number (time × fps)."""

    def __init__(self, tracks: Tracks, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.setFixedHeight(104)
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.ci.layout.setVerticalSpacing(10)
        self.seconds = pg.AxisItem("bottom")
        self.seconds.setLabel("time from the first frame", units="s")
        self.seconds.enableAutoSIPrefix(False)
        self.frames = pg.AxisItem("bottom")
        self.frames.setLabel("frame")
        self.frames.enableAutoSIPrefix(False)
        self.addItem(self.frames, row=0, col=0)
        self.addItem(self.seconds, row=1, col=0)
        self._vb = None
        tracks.time_axis = self

    def set_fps(self, fps: float) -> None:
        self.frames.setScale(float(fps))

    def link(self, vb) -> None:
        self._vb = vb
        for ax in (self.seconds, self.frames):
            ax.linkToView(vb)
        vb.sigResized.connect(self._align)
        self._align()

    def _align(self, *_) -> None:
        """Put the axes exactly under the plot area of the tracks (their left axis and the
        scroll bar take room the axes must leave)."""
        vb = getattr(self, "_vb", None)
        if vb is None or vb.scene() is None or not vb.scene().views():
            return
        view = vb.scene().views()[0]
        r = vb.sceneBoundingRect()
        a = self.mapFromGlobal(view.mapToGlobal(view.mapFromScene(r.topLeft()))).x()
        b = self.mapFromGlobal(view.mapToGlobal(view.mapFromScene(r.topRight()))).x()
        left, right = max(0, a), max(0, self.width() - b)
        self.ci.layout.setContentsMargins(left, 0, right, 0)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev is not None:
            self._align()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self._align()
