"""The study report: one self-contained HTML file (figures embedded as base64 PNG, inline CSS).

Sections: banners (ground truth used in place of spotting results, sessions left out such as aborted
protocol runs, sessions not spotted), the sessions (status, health verdict, what was found in each), a timeline per session, the per-group table,
plots per group with 95 % CIs, the event-locked heart rate, the t tests, the correlations, notes,
and a short methods paragraph (the full text is docs/physiology.md).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import OutputError
from acquisition.session_read.names import GROUND_TRUTH_NAME
from analysis.report import cache, plots
from analysis.stats import MEASURES

if TYPE_CHECKING:
    from analysis.study import StudyResult

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;
color:#222;font-size:14px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:3px;
margin-top:28px}h3{font-size:14px;margin:18px 0 4px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 6px;
text-align:right;white-space:nowrap}td.w{white-space:normal;text-align:left;min-width:12em}th{background:#f3f3f3;white-space:normal}td.l,th.l{text-align:left}tr.sig td{background:#fff6d5}
img{max-width:100%;display:block;margin:6px 0}.meta{color:#666;font-size:12px}
ul.notes{font-size:12px;color:#555}.missing{color:#a04000}
.banner{border:2px solid #c60;background:#fff1e0;padding:8px 12px;margin:10px 0;font-weight:600}
.excluded{border:1px solid #bbb;background:#f6f6f6;padding:6px 12px;margin:10px 0}
.h-ok{color:#2a7}.h-warning{color:#b70}.h-bad{color:#d33;font-weight:600}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _n(v, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    return f"{float(v):.{nd}f}"


def _img(fig, alt: str) -> str:
    if fig is None:
        return ""
    return _png(plots.to_png(fig), alt)


def _png(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(headers: list[str], rows: list[list[str]], left: int = 1, classes=None, wrap_last: bool = False) -> str:
    th = "".join(
        f'<th class="{"l" if i < left or (wrap_last and i == len(headers) - 1) else ""}">{h}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for j, r in enumerate(rows):
        cls = f' class="{classes[j]}"' if classes and classes[j] else ""
        tds = "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
        if wrap_last:
            tds = tds[: tds.rfind("<td")] + f'<td class="w">{r[-1]}</td>'
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><tr>{th}</tr>{''.join(body)}</table>"


def _sessions_table(study) -> str:
    rows = []
    for sr in study.sessions:
        pa, d = sr.physio, sr.session
        c, e = pa.cardiac, pa.eda
        emg = f"{len(pa.emg)} ch, {sum(len(ch.onsets) for ch in pa.emg)} bursts" if pa.emg else "–"
        missing = "; ".join(f"no {k.upper()}" for k in pa.missing)
        me = _e(f"{len(d.me_events)} ({d.me_source})") if d.me_source else "–"
        if d.me_source == GROUND_TRUTH_NAME:
            me = f'<span class="h-bad">{me}: simulated truth, not spotting results</span>'
        elif sr.truth_not_used:
            me = "– (not spotted)"
        rows.append(
            [
                _e(d.label),
                _e(d.participant or "–"),
                _e(d.protocol or "–"),
                _e((sr.status or "–") + (f" ({sr.status_detail})" if sr.status_detail else "")),
                _health(sr.health),
                _n(d.duration_s / 60, 1),
                _e(f"{c.kind.upper()}: {c.n_beats} beats, {c.mean_hr_bpm:.1f} bpm") if c else "–",
                _e(f"{e.n_scr} SCR" + ("" if e.n_scr == 1 else "s")) if e else "–",
                _e(emg),
                me,
                str(len(d.markers)),
                f'<span class="missing">{_e(missing)}</span>',
            ]
        )
    return _table(
        [
            "session",
            "participant",
            "protocol",
            "status",
            "health",
            "min",
            "heart",
            "EDA",
            "EMG",
            "MEs",
            "markers",
            "missing",
        ],
        rows,
        left=5,
    )


def _health(health: dict | None) -> str:
    """The session's health verdict (acquisition.health), as everywhere else: verdict and reasons."""
    from acquisition.health import format_health

    if not health:
        return "–"
    return f'<span class="h-{_e(health.get("verdict"))}">{_e(format_health(health))}</span>'


def _banners(study) -> list[str]:
    """What the page must say before any figure: ground truth used as results, sessions left out."""
    out = []
    truth = getattr(study, "truth_used", None) or []
    if truth:
        out.append(
            "<div class='banner'>Ground truth used as results: the ME events of "
            + ", ".join(_e(x) for x in truth)
            + " are the simulated rig's ground_truth.csv "
            "(asked for with --use-ground-truth), not spotting results. Every ME measure of "
            "these sessions below is the truth the simulation planted.</div>"
        )
    excluded = getattr(study, "excluded", None) or []
    if excluded:
        out.append(
            "<div class='excluded'><b>Left out: "
            + str(len(excluded))
            + " session(s)</b><ul>"
            + "".join(f"<li>{_e(x['path'])}: {_e(x['why'])}</li>" for x in excluded)
            + "</ul></div>"
        )
    not_spotted = [sr.session.label for sr in study.sessions if getattr(sr, "truth_not_used", False)]
    if not_spotted:
        out.append(
            "<div class='excluded'>Not spotted, so without ME events: "
            + ", ".join(_e(x) for x in not_spotted)
            + " (their ground_truth.csv is not used as results; run "
            "<code>mexlab spot</code>).</div>"
        )
    return out


def _group_table(study) -> str:
    t = study.table
    cols = ["duration_min", *MEASURES]
    heads = ["participant", study.by, "sessions"] + [
        _e(MEASURES[c][0] + (f" ({MEASURES[c][1]})" if c in MEASURES and MEASURES[c][1] else ""))
        if c in MEASURES
        else "minutes"
        for c in cols
    ]
    rows = [
        [_e(r["participant"]), _e(r["group"]), str(r["sessions"])]
        + [_n(r[c], 0 if c == "me_count" else 2) for c in cols]
        for _, r in t.iterrows()
    ]
    return _table(heads, rows, left=2)


def _tests_table(study) -> str:
    if not study.tests:
        return "<p>No group comparison: it needs two groups with at least two values each.</p>"
    rows, cls = [], []
    for x in study.tests:
        name, unit = MEASURES[x.measure]
        rows.append(
            [
                _e(name + (f" ({unit})" if unit else "")),
                _e(f"{x.group_a} − {x.group_b}"),
                _e(x.test),
                f"{x.n_a}/{x.n_b}",
                _n(x.mean_a),
                _n(x.mean_b),
                f"{_n(x.diff)} [{_n(x.ci_low)}, {_n(x.ci_high)}]",
                f"t({_n(x.df, 1)}) = {_n(x.t)}",
                _n(x.p, 4),
                _n(x.p_holm, 4),
                f"{_n(x.d)} [{_n(x.d_ci_low)}, {_n(x.d_ci_high)}]",
                _e(x.note),
            ]
        )
        cls.append("sig" if x.p_holm < 0.05 else "")
    return _table(
        [
            "measure",
            "groups",
            "test",
            "n",
            "mean A",
            "mean B",
            "difference [95 % CI]",
            "t",
            "p",
            "p (Holm)",
            "Cohen's d [95 % CI]",
            "note",
        ],
        rows,
        left=3,
        classes=cls,
        wrap_last=True,
    )


def _corr_table(study) -> str:
    if not study.correlations:
        return (
            "<p>No correlation: it needs at least four participant × group rows with both an ME "
            "measure and a physiological one.</p>"
        )
    rows, cls = [], []
    for c in study.correlations:
        rows.append(
            [
                _e(MEASURES[c.x][0]),
                _e(MEASURES[c.y][0]),
                str(c.n),
                _n(c.r),
                f"[{_n(c.ci_low)}, {_n(c.ci_high)}]",
                _n(c.p, 4),
                _n(c.p_holm, 4),
            ]
        )
        cls.append("sig" if c.p_holm < 0.05 else "")
    return _table(
        ["ME measure", "physiological measure", "n", "r", "95 % CI", "p", "p (Holm)"], rows, left=2, classes=cls
    )


METHODS = """<p>Heart: R peaks (ECG: <code>nk.ecg_clean</code> + <code>nk.ecg_peaks</code>, artifact
correction) or pulse peaks (PPG: <code>nk.ppg_clean</code> + <code>nk.ppg_peaks</code>); HR = 60 / inter-beat
interval, on a 4 Hz grid; HRV <code>nk.hrv_time</code>. EDA: <code>nk.eda_process(method="neurokit")</code>
(3 Hz low-pass; tonic/phasic split at 0.05 Hz; SCRs ≥ 10 % of the largest). EMG: 20–450 Hz band-pass,
rectified, 10 Hz low-pass envelope; bursts above the baseline level + 5 SD (and ≥ 1.5 × baseline).
Event-locked: ΔHR = mean HR 0–6 s after the event − baseline (rest step, else 3 s before); SCR = first
SCR with onset 1–5 s after (0 if none); EMG = peak envelope −0.25–1 s / baseline. Tests: paired or
Welch t tests (scipy), Cohen's d with approximate 95 % CI; Pearson r with Fisher-z 95 % CI.
p (Holm) is p adjusted by Holm's step-down method over all the t tests of the report (and, separately,
over all its correlations); rows with p (Holm) &lt; 0.05 are highlighted.
See docs/physiology.md.</p>"""


def _classes_section(study) -> str:
    """Recognised micro-expressions per class and paradigm (analysis/report/classes.py)."""
    from analysis.report.classes import class_counts

    cc = class_counts([sr.session for sr in study.sessions])
    parts = ["<h2>Micro-expressions per class</h2>"]
    if cc.counts:
        rows = [
            [_e(p), str(cc.sessions[p])] + [str(cc.counts[p].get(c, 0)) for c in cc.classes] + [str(cc.total(p))]
            for p in sorted(cc.counts)
        ]
        parts.append(_table(["paradigm", "sessions", *map(_e, cc.classes), "total"], rows))
        models = ", ".join(f"{_e(n)} ({sha[:12]})" for sha, n in cc.models.items())
        warn = " — <b>several models: counts are not comparable</b>" if len(cc.models) > 1 else ""
        parts.append(
            f"<p class='meta'>classes from <code>analysis/recognition.json</code> "
            f"(<code>mexlab recognize</code>); model: {models or '?'}{warn}</p>"
        )
    else:
        parts.append(
            "<p class='meta'>no session has a recognition result "
            "(<code>mexlab recognize SESSION</code> writes one).</p>"
        )
    if cc.missing and cc.counts:
        parts.append(f"<p class='missing'>not recognised yet: {_e(', '.join(cc.missing))}</p>")
    for pr in cc.problems:
        parts.append(f"<p class='missing'>{_e(pr)}</p>")
    return "\n".join(parts)


def render_report(study: StudyResult, title: str | None = None, progress: Callable[[str], None] | None = None) -> str:
    """The report of a :class:`analysis.study.StudyResult` as an HTML string."""
    say = progress or (lambda _m: None)
    title = title or f"mexlab physiology report — {len(study.sessions)} session(s)"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p class='meta'>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"mexlab; grouped by {_e(study.by)}; {study.table['participant'].nunique()} participant(s)</p>",
        *_banners(study),
        "<h2>Sessions</h2>",
        _sessions_table(study),
    ]
    parts.append("<h2>Timelines</h2>")
    for i, sr in enumerate(study.sessions, 1):
        say(f"[{i}/{len(study.sessions)}] timeline of {sr.session.label}")
        parts.append(f"<h3>{_e(sr.session.label)}</h3>")
        parts.append(_png(cache.timeline_png(sr), f"timeline of {sr.session.label}"))
    say("group plots and tests")
    parts += [
        f"<h2>Per {_e(study.by)}</h2>",
        _group_table(study),
        _img(plots.group_figure(study.table, study.by), f"measures per {study.by}"),
        _img(plots.event_locked_figure(study), "event-locked heart rate"),
        "<h2>Tests between groups</h2>",
        _tests_table(study),
        "<h2>Correlations: ME measures and physiology</h2>",
        _corr_table(study),
        _img(plots.correlation_figure(study.table, study.correlations), "correlations"),
        _classes_section(study),
    ]
    if study.notes:
        parts.append("<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{_e(n)}</li>" for n in study.notes) + "</ul>")
    parts += ["<h2>Methods</h2>", METHODS, "</body></html>"]
    return "\n".join(parts)


def check_report_out(out: Path | str) -> Path:
    """The report's path, refused (before anything is analysed or cached) when it cannot be written."""
    from acquisition.atomic import check_out_file

    return check_out_file(out, (".html", ".htm"), what="HTML file")


def write_report(
    study: StudyResult, out: Path | str, *, title: str | None = None, progress: Callable[[str], None] | None = None
) -> Path:
    """Render and write the report; OutputError when the file cannot be written."""
    out = check_report_out(out)
    text = render_report(study, title=title, progress=progress)
    try:
        from acquisition.atomic import write_text

        write_text(out, text)  # temp-and-rename: a failed write keeps an earlier report whole
    except OSError as exc:
        raise OutputError(f"cannot write the report {out}: {exc.strerror or exc}") from None
    return out
