"""Analyze's spotting plot: AU proxies, head pose and EMG on the video's frame axis, with the
intervals (micro, macro, suppressed) as shaded regions and a line at the frame shown."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from acquisition.session_read.names import RGB_NAME

COLOURS = {"micro": (220, 40, 40, 70), "macro": (40, 90, 220, 60), "suppressed": (120, 120, 120, 50)}
SHOW_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU26", "AU45")


def draw_spotting(layout: pg.GraphicsLayoutWidget, result, model) -> list:
    """Draw ``result`` (a SpotResult) into ``layout``; ``model`` (AnalyzeModel) gives the EMG.
    Returns the lines that mark the frame shown (one per plot)."""
    from analysis.face.aus import AU_NAMES, au_proxies

    layout.clear()
    feat = result.features
    x = np.arange(result.n_frames)
    p_au = layout.addPlot(row=0, col=0, title="AU intensity proxies (blendshapes)")
    p_au.setLabel("left", "AU proxy (0-1)")
    p_au.addLegend(offset=(-10, 5), labelTextSize="7pt")
    if feat is not None:
        aus = au_proxies(np.nan_to_num(feat.blendshapes))
        for k, name in enumerate(AU_NAMES):
            if name in SHOW_AUS:
                p_au.plot(x, aus[:, k], pen=pg.intColor(k, hues=len(AU_NAMES)), name=name)
    p_pose = layout.addPlot(row=1, col=0, title="head pose")
    p_pose.setLabel("left", "angle (deg)")
    p_pose.addLegend(offset=(-10, 5), labelTextSize="7pt")
    p_pose.setXLink(p_au)
    if feat is not None:
        for k, name in enumerate(("yaw", "pitch", "roll")):
            p_pose.plot(x, feat.pose[:, k], pen=pg.intColor(k, hues=3), name=name)
    p_emg = layout.addPlot(row=2, col=0, title="EMG envelope (per channel, scaled)")
    p_emg.setLabel("left", "envelope / its 99th pct")
    p_emg.setLabel("bottom", f"frame of {RGB_NAME} (at {result.fps:g} fps)")
    for p in (p_au, p_pose):
        p.setLabel("bottom", "frame")
    p_emg.setXLink(p_au)
    traces, note = model.emg_traces()
    if note:
        p_emg.setTitle(f"EMG envelope: {html.escape(note)}")
    for ch, t in enumerate(traces):
        p_emg.plot(t.frames, t.values, pen=pg.intColor(ch, hues=max(8, len(traces))))
    lines = []
    for p in (p_au, p_pose, p_emg):
        for i in result.intervals:
            p.addItem(
                pg.LinearRegionItem((i["onset"], i["offset"] + 1), movable=False, brush=pg.mkBrush(*COLOURS[i["type"]]))
            )
        for s in result.suppressed:
            p.addItem(
                pg.LinearRegionItem(
                    (s["onset"], s["offset"] + 1), movable=False, brush=pg.mkBrush(*COLOURS["suppressed"])
                )
            )
        line = pg.InfiniteLine(0, pen=pg.mkPen("y", width=2))
        p.addItem(line)
        lines.append(line)
    return lines
