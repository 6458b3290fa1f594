"""Scrolling live traces of LSL streams (pyqtgraph): one plot per stream, channels stacked, each
channel scaled to its own range."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

# pyqtgraph's atexit clean-up walks every QGraphicsScene after Qt has begun tearing down; with
# PySide6 6.12 that crashes the interpreter at exit. mexlab deletes its plots itself (TracesPanel.clear).
pg.setConfigOptions(exitCleanup=False)

WINDOW_S = 5.0
MAX_POINTS = 1200  # per channel drawn: min/max envelope keeps bursts visible


def envelope(t: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS):
    """Downsample for display keeping each bin's min and max (bursts are never decimated away)."""
    n = len(t)
    if n <= max_points:
        return t, y
    bins = max_points // 2
    edges = np.linspace(0, n, bins + 1).astype(int)
    tt = np.repeat(t[edges[:-1]], 2)
    ymin = np.minimum.reduceat(y, edges[:-1])
    ymax = np.maximum.reduceat(y, edges[:-1])
    yy = np.empty(2 * bins)
    yy[0::2], yy[1::2] = ymin, ymax
    return tt, yy


def envelope_y(y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """The values half of :func:`envelope` (the times are shared by all channels)."""
    n = len(y)
    if n <= max_points:
        return y
    bins = max_points // 2
    edges = np.linspace(0, n, bins + 1).astype(int)
    yy = np.empty(2 * bins)
    yy[0::2] = np.minimum.reduceat(y, edges[:-1])
    yy[1::2] = np.maximum.reduceat(y, edges[:-1])
    return yy


class TracesPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._plots: dict[str, tuple[pg.PlotWidget, list]] = {}
        self.updates = 0

    def clear(self) -> None:
        for w, _ in self._plots.values():
            w.close()
            w.setParent(None)
            w.deleteLater()
        self._plots = {}

    def update_from(self, monitors) -> None:
        for m in monitors:
            if m.stream.channel_format == 3:  # strings (markers): nothing to plot
                continue
            t, v = m.recent()
            if len(t) < 2:
                continue
            v = np.asarray(v, dtype=float).reshape(len(t), -1)
            name = m.stream.name
            if name not in self._plots:
                pw = pg.PlotWidget(title=f"{name} ({m.stream.type}, {m.stream.nominal_srate:g} Hz)")
                pw.setMinimumHeight(70 + 22 * v.shape[1])
                pw.hideAxis("left")
                pw.setLabel("bottom", "s")
                curves = [pw.plot(pen=pg.intColor(i, hues=max(8, v.shape[1]))) for i in range(v.shape[1])]
                self._layout.addWidget(pw)
                self._plots[name] = (pw, curves)
            pw, curves = self._plots[name]
            keep = t >= t[-1] - WINDOW_S
            tt = t[keep] - t[-1]
            vk = v[keep]
            tt, _ = envelope(tt, vk[:, 0])
            for i, c in enumerate(curves):
                y = vk[:, i]
                lo, hi = float(y.min()), float(y.max())
                span = hi - lo if hi > lo else 1.0
                y = (y - lo) / span - i * 1.2  # per-channel scaling, stacked
                c.setData(tt, envelope_y(y))
        self.updates += 1
