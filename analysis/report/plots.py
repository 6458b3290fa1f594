"""Figures of the physiology report. Every function returns a ``matplotlib.figure.Figure``.

The figures are made without pyplot (no global state, no GUI backend): the report renders them to
PNG with Agg (:func:`to_png`), the GUI can embed the same Figure in a ``FigureCanvasQTAgg``.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from analysis.stats import MEASURES

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from analysis.stats import Correlation
    from analysis.study import SessionResult, StudyResult

ME_COLOURS = {"micro": "#d62728", "macro": "#ff7f0e"}
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


MAX_LINE_BINS = 2000  # a line of more samples is drawn as the min and max of this many bins


def envelope(t: np.ndarray, y: np.ndarray, bins: int = MAX_LINE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """``(t, y)`` thinned for drawing: when longer than ``2 × bins`` samples, the smallest and the
    largest sample of each of ``bins`` runs of samples, in time order — every peak and trough is
    kept (a figure is about a thousand pixels wide), and a figure of an hour holds as many points as
    one of ten minutes. Lines with gaps (NaN) are drawn whole."""
    t, y = np.asarray(t), np.asarray(y)
    n = y.size
    if n <= 2 * bins or t.size != n or np.isnan(y).any():
        return t, y
    k = n // bins
    m = bins * k
    rows = y[:m].reshape(bins, k)
    lo, hi = rows.argmin(axis=1), rows.argmax(axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    base = np.arange(bins) * k
    tail = [m + int(y[m:].argmin()), m + int(y[m:].argmax())] if n > m else []
    idx = np.unique(np.concatenate([[0], base + first, base + second, tail, [n - 1]]).astype(np.int64))
    return t[idx], y[idx]


def _colours(names) -> dict:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted({str(n) for n in names}))}


def timeline_figure(sr: SessionResult, width: float = 11.0) -> Figure:
    """One session on one time axis: markers, conditions and MEs; heart rate; EDA; EMG envelopes."""
    pa, data = sr.physio, sr.session
    t0 = data.start
    panels = ["events"] + [k for k, v in (("hr", pa.cardiac), ("eda", pa.eda), ("emg", pa.emg)) if v]
    heights = {"events": 1.0, "hr": 1.6, "eda": 1.6, "emg": 0.25 * max(4, len(pa.emg)) + 0.6}
    fig = Figure(figsize=(width, sum(heights[p] for p in panels) + 0.8), layout="constrained")
    axes = fig.subplots(
        len(panels), 1, sharex=True, gridspec_kw={"height_ratios": [heights[p] for p in panels]}, squeeze=False
    )[:, 0]
    ax_of = dict(zip(panels, axes))
    cond_colour = _colours(c for _, _, c in sr.spans)

    ax = ax_of["events"]
    for a, b, c in sr.spans:
        for axx in axes:
            axx.axvspan(a - t0, b - t0, color=cond_colour[c], alpha=0.08, lw=0)
        ax.text((a + b) / 2 - t0, 0.92, c, ha="center", va="top", fontsize=7, color=cond_colour[c], clip_on=True)
    for a, b in pa.rest_windows:
        ax.axvspan(a - t0, b - t0, ymin=0.0, ymax=0.2, color="0.6", alpha=0.6, lw=0)
    stim = [r for r in sr.responses if r.source == "marker"]
    for r in stim:
        ax.axvline(r.time - t0, ymin=0.25, ymax=0.6, color=cond_colour.get(r.condition, "0.3"), lw=1)
    for e in data.me_events:
        ax.axvspan(
            e.onset - t0,
            max(e.offset, e.onset + 0.05) - t0,
            ymin=0.62,
            ymax=0.8,
            color=ME_COLOURS.get(e.type, "k"),
            lw=0,
        )
    ax.set_yticks([0.1, 0.42, 0.71], ["rest", "stimuli", "MEs"], fontsize=7)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=ME_COLOURS["micro"], label="micro"),
            Patch(color=ME_COLOURS["macro"], label="macro"),
            Patch(color="0.6", label="rest step"),
        ],
        loc="lower right",
        fontsize=6,
        ncols=3,
        frameon=False,
        bbox_to_anchor=(1.0, 1.0),
        borderaxespad=0.1,
    )
    ax.set_ylim(0, 1)
    ax.set_title(
        f"{data.label} — participant {data.participant or '-'}, protocol {data.protocol or '-'}"
        + (f", MEs from {data.me_source}" if data.me_source else ", no ME events"),
        fontsize=9,
        loc="left",
    )

    if "hr" in ax_of:
        c, ax = pa.cardiac, ax_of["hr"]
        ax.plot(*envelope(c.hr_t - t0, c.hr_bpm), color="#c0392b", lw=1)
        ax.set_ylabel("HR (bpm)", fontsize=8)
        ax.text(
            0.005,
            0.95,
            f"{c.kind.upper()} {c.stream}: mean {c.mean_hr_bpm:.1f} bpm, {c.n_beats} beats",
            transform=ax.transAxes,
            fontsize=7,
            va="top",
        )
    if "eda" in ax_of:
        e, ax = pa.eda, ax_of["eda"]
        tt, yy = envelope(e.t - t0, e.clean)
        ax.plot(tt, yy, color="#2471a3", lw=1, label="EDA")
        tt, yy = envelope(e.t - t0, e.tonic)
        ax.plot(tt, yy, color="#2471a3", lw=0.8, ls="--", alpha=0.7, label="tonic")
        on = np.searchsorted(e.t, e.scr_onsets).clip(0, e.t.size - 1)
        pk = np.searchsorted(e.t, e.scr_peaks).clip(0, e.t.size - 1)
        ax.plot(e.t[on] - t0, e.clean[on], "v", color="#117a65", ms=4, label="SCR onset")
        ax.plot(e.t[pk] - t0, e.clean[pk], "^", color="#b9770e", ms=4, label="SCR peak")
        ax.set_ylabel(f"EDA ({e.unit})", fontsize=8)
        ax.legend(fontsize=6, loc="upper right", ncols=4, frameon=False)
    if "emg" in ax_of:
        ax = ax_of["emg"]
        chans = pa.emg
        t = chans[0].env_t
        k = int(np.ceil(t.size / 3000))
        n = t.size // k * k if k > 1 else t.size

        def binned(c):  # a long session: the max of each bin, so no burst is lost (one channel at a time)
            r = np.interp(t, c.env_t, c.env) / max(c.baseline_level, 1e-12)
            return r[:n].reshape(-1, k).max(axis=1) if k > 1 else r

        rel = np.vstack([binned(c) for c in chans])
        t = t[:n:k] if k > 1 else t
        img = ax.imshow(
            np.log2(np.clip(rel, 0.5, 32)),
            aspect="auto",
            cmap="magma",
            vmin=-1,
            vmax=5,
            extent=(t[0] - t0, t[-1] - t0, len(chans) - 0.5, -0.5),
            interpolation="nearest",
        )
        ax.set_yticks(range(len(chans)), [c.channel for c in chans], fontsize=6)
        cb = fig.colorbar(img, ax=ax, pad=0.005, fraction=0.02)
        cb.set_ticks([-1, 0, 1, 2, 3, 4, 5], labels=["½", "1", "2", "4", "8", "16", "32"], fontsize=6)
        cb.set_label("EMG × baseline", fontsize=7)
        for c_i, c in enumerate(chans):  # one line of markers per channel, not an artist per onset
            if c.onsets:
                xs = np.array([a for a, _, _ in c.onsets], float) - t0
                ax.plot(xs, np.full(xs.size, c_i), ls="none", marker="|", color="c", ms=6)
    for axx in axes:
        axx.tick_params(labelsize=7)
    axes[-1].set_xlabel("time since the recording started (s)", fontsize=8)
    axes[-1].set_xlim(0, max(data.duration_s, 1.0))
    return fig


def _ci95(values: np.ndarray) -> float:
    from scipy import stats

    n = values.size
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))


def group_figure(table: pd.DataFrame, by: str, measures: Sequence[str] | None = None, cols: int = 4) -> Figure | None:
    """Per-group means with 95 % CIs (t) of every measure, participants as points (joined if paired)."""
    measures = [m for m in (measures or MEASURES) if np.isfinite(table[m].astype(float)).any()]
    if not measures:
        return None
    groups = sorted(table["group"].astype(str).unique())
    rows = math.ceil(len(measures) / cols)
    fig = Figure(figsize=(2.8 * min(cols, len(measures)), 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, min(cols, len(measures)), squeeze=False).ravel())
    col = _colours(groups)
    people = sorted(table["participant"].astype(str).unique())
    offset = {p: (np.linspace(-0.12, 0.12, len(people))[i] if len(people) > 1 else 0.0) for i, p in enumerate(people)}
    for ax, m in zip(axes, measures):
        t = table[np.isfinite(table[m].astype(float))]
        for p, sub in t.groupby("participant"):
            xs = np.array([groups.index(str(g)) + offset[str(p)] for g in sub["group"]])
            if len(xs) > 1:
                order = np.argsort(xs)
                ax.plot(xs[order], sub[m].to_numpy(float)[order], color="0.75", lw=0.8, zorder=1)
        for i, g in enumerate(groups):
            sub = t[t["group"].astype(str) == g]
            v = sub[m].to_numpy(float)
            if not v.size:
                continue
            x = i + np.array([offset[str(p)] for p in sub["participant"]])
            ax.scatter(x, v, s=14, color=col[g], alpha=0.7, zorder=2)
            ci = _ci95(v)
            ax.errorbar(
                i + 0.25, v.mean(), yerr=ci if np.isfinite(ci) else None, fmt="o", color="k", ms=5, capsize=4, zorder=3
            )
        name, unit = MEASURES[m]
        ax.set_title(name + (f" ({unit})" if unit else ""), fontsize=8)
        ax.set_xticks(range(len(groups)), groups, fontsize=7, rotation=20 if len(groups) > 3 else 0)
        ax.set_xlim(-0.5, len(groups) - 0.4)
        ax.tick_params(labelsize=7)
    for ax in axes[len(measures) :]:
        ax.set_visible(False)
    fig.suptitle(f"per {by}: participants (points), mean ± 95 % CI (black)", fontsize=9)
    return fig


def event_locked_figure(
    study: StudyResult, window: tuple[float, float] = (-3.0, 10.0), step: float = 0.25
) -> Figure | None:
    """Mean heart-rate change (± 95 % CI over events) after stimuli and after MEs, per group."""
    grid = np.arange(window[0], window[1] + 1e-9, step)
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    for sr in study.sessions:
        c = sr.physio.cardiac
        if c is None:
            continue
        for r in sr.responses:
            if not np.isfinite(r.hr_baseline_bpm):
                continue
            group = (r.condition if study.by == "condition" else sr.session.protocol) or (
                "(no condition)" if study.by == "condition" else "(no protocol)"
            )
            kind = "stimuli" if r.source == "marker" else "MEs"
            curves.setdefault((kind, str(group)), []).append(c.hr_at(r.time + grid) - r.hr_baseline_bpm)
    if not curves:
        return None
    kinds = [k for k in ("stimuli", "MEs") if any(key[0] == k for key in curves)]
    fig = Figure(figsize=(5.2 * len(kinds), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(kinds), squeeze=False).ravel())
    col = _colours(g for _, g in curves)
    for ax, kind in zip(axes, kinds):
        for (k, g), cs in sorted(curves.items()):
            if k != kind:
                continue
            a = np.vstack(cs)
            n = np.sum(np.isfinite(a), axis=0)
            mean = np.nanmean(np.where(n > 0, a, 0.0), axis=0) if a.size else grid * np.nan
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN or 1-value column
                sd = np.nanstd(a, axis=0, ddof=1) if len(cs) > 1 else np.zeros_like(grid)
            from scipy import stats

            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
            ax.plot(grid, mean, color=col[g], lw=1.5, label=f"{g} (n={len(cs)})")
            if len(cs) > 1:
                ax.fill_between(grid, mean - half, mean + half, color=col[g], alpha=0.2, lw=0)
        ax.axvline(0, color="k", lw=0.8)
        ax.axhline(0, color="0.5", lw=0.6, ls=":")
        ax.set_title(f"heart rate after {kind} (mean ± 95 % CI)", fontsize=9)
        ax.set_xlabel("time from the event (s)", fontsize=8)
        ax.set_ylabel("ΔHR (bpm)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    return fig


def correlation_figure(table: pd.DataFrame, correlations: list[Correlation], cols: int = 4) -> Figure | None:
    """Scatter plots of the correlations (with their least-squares line, r and 95 % CI)."""
    if not correlations:
        return None
    cs = sorted(correlations, key=lambda c: c.p)[:8]
    rows = math.ceil(len(cs) / cols)
    fig = Figure(figsize=(2.8 * min(cols, len(cs)), 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, min(cols, len(cs)), squeeze=False).ravel())
    col = _colours(table["group"].astype(str))
    for ax, c in zip(axes, cs):
        t = table[np.isfinite(table[c.x].astype(float)) & np.isfinite(table[c.y].astype(float))]
        x, y = t[c.x].to_numpy(float), t[c.y].to_numpy(float)
        ax.scatter(x, y, s=16, c=[col[str(g)] for g in t["group"]], alpha=0.8)
        if np.ptp(x) > 0:
            k, b = np.polyfit(x, y, 1)
            xx = np.linspace(x.min(), x.max(), 10)
            ax.plot(xx, k * xx + b, color="k", lw=0.8)
        ci = "" if not np.isfinite(c.ci_low) else f" [{c.ci_low:.2f}, {c.ci_high:.2f}]"
        ax.set_title(f"r = {c.r:.2f}{ci}, n = {c.n}", fontsize=8)
        ax.set_xlabel(MEASURES[c.x][0], fontsize=7)
        ax.set_ylabel(MEASURES[c.y][0], fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes[len(cs) :]:
        ax.set_visible(False)
    return fig
