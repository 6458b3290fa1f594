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


def minmax_envelope(t: np.ndarray, x: np.ndarray, t0: float, t1: float, n_bins: int):
    """``(t, y)`` to draw ``x`` over ``[t0, t1]`` with at most ``2·n_bins`` points: every sample
    when they fit, else each bin's minimum and maximum in time order (peaks are kept)."""
    i0, i1 = np.searchsorted(t, [t0, t1])
    i0, i1 = max(0, i0 - 1), min(t.size, i1 + 1)
    tt, xx = t[i0:i1], x[i0:i1]
    if xx.size <= 2 * n_bins or n_bins < 1:
        return tt, xx
    per = int(np.ceil(xx.size / n_bins))
    starts = np.arange(0, xx.size, per)  # the last bin may be shorter: the newest samples count too
    lo, hi = np.minimum.reduceat(xx, starts), np.maximum.reduceat(xx, starts)
    return np.repeat(tt[starts], 2), np.column_stack([lo, hi]).ravel()


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
                pw.setMenuEnabled(False)
                pw.setMouseEnabled(x=False, y=False)
                pw.hideButtons()
                # a fixed view: no bounds to compute and no axis to re-lay-out at each update (the
                # repaint of ranging plots cost the GUI thread more than the camera previews did)
                pw.disableAutoRange()
                pw.setXRange(-WINDOW_S, 0.0, padding=0.02)
                pw.setYRange(-1.2 * (v.shape[1] - 1) - 0.05, 1.05, padding=0)
                curves = [pw.plot(pen=pg.intColor(i, hues=max(8, v.shape[1]))) for i in range(v.shape[1])]
                self._layout.addWidget(pw)
                self._plots[name] = (pw, curves)
            pw, curves = self._plots[name]
            keep = t >= t[-1] - WINDOW_S
            tt = t[keep] - t[-1]
            vk = v[keep]
            # one min/max pair per two pixel columns: more points cannot be seen, and every point
            # is Python work on the GUI thread that a recording's encoders wait for (the GIL)
            bins = max(50, min(MAX_POINTS // 2, pw.width() // 2))
            for i, c in enumerate(curves):
                y = vk[:, i]
                lo, hi = float(y.min()), float(y.max())
                span = hi - lo if hi > lo else 1.0
                y = (y - lo) / span - i * 1.2  # per-channel scaling, stacked
                c.setData(*minmax_envelope(tt, y, tt[0], tt[-1], bins), skipFiniteCheck=True)
        self.updates += 1
