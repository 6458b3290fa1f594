"""A study: many sessions analysed, tabulated per participant and paradigm or condition, tested.

:func:`analyse_study` runs :func:`analysis.physio.analyse` and
:func:`analysis.physio.events.event_responses` on every session, turns each into rows (one per
session and group), pools them per participant and group (:func:`analysis.stats.aggregate`) and
runs the tests (:func:`analysis.stats.run_tests`). :func:`study_paths` finds the sessions of a
catalog query. A session without a participant pseudonym counts as its own participant (its folder
name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from acquisition.errors import MexlabError
from analysis.physio import PhysioAnalysis, analyse
from analysis.physio.events import EventResponse, Windows, condition_spans, event_responses
from analysis.stats import Correlation, TestResult, aggregate, run_tests

NO_PROTOCOL = "(no protocol)"
SELF_REPORT_SCALES = ("intensity", "valence", "arousal")   # columns of responses.csv


@dataclass
class SessionResult:
    physio: PhysioAnalysis
    responses: list[EventResponse]
    spans: list[tuple[float, float, str]]      # condition spans (LSL s)
    self_reports: list[dict] = field(default_factory=list)   # the self_report rows of responses.csv

    @property
    def session(self):
        return self.physio.session

    @property
    def participant(self) -> str:
        return self.session.participant or self.session.label


@dataclass
class StudyResult:
    by: str
    sessions: list[SessionResult]
    table: object                              # pandas DataFrame (analysis.stats.aggregate)
    tests: list[TestResult]
    correlations: list[Correlation]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {"by": self.by, "sessions": [s.session.label for s in self.sessions],
                "table": rows, "tests": [t.to_json() for t in self.tests],
                "correlations": [c.to_json() for c in self.correlations], "notes": list(self.notes)}


def _clip(a: float, b: float, t0: float, t1: float) -> float:
    return max(0.0, min(b, t1) - max(a, t0))


def session_rows(sr: SessionResult, by: str) -> list[dict]:
    """Rows for :func:`analysis.stats.aggregate`: one per group the session has time in."""
    pa, data = sr.physio, sr.session
    if by == "protocol":
        pieces = {data.protocol or NO_PROTOCOL: [(data.start, data.end)]}
    elif by == "condition":
        pieces = {}
        for t0, t1, c in sr.spans:
            pieces.setdefault(c, []).append((t0, t1))
    else:
        raise MexlabError(f"cannot group by {by!r}: use 'protocol' or 'condition'")
    rows = []
    for group, spans in pieces.items():
        def inside(t: float) -> bool:
            return any(a <= t < b for a, b in spans)

        seconds = sum(b - a for a, b in spans)
        hr = float("nan")
        if pa.cardiac is not None:
            parts = [(pa.cardiac.mean_hr_between(a, b), b - a) for a, b in spans]
            parts = [(h, w) for h, w in parts if np.isfinite(h) and w > 0]
            if parts:
                hr = sum(h * w for h, w in parts) / sum(w for _, w in parts)
        scr = None
        if pa.eda is not None:
            scr = int(sum(inside(t) for t in pa.eda.scr_onsets))
        # a stimulus belongs to the group of its own condition (protocol grouping: all of them)
        stim = [r for r in sr.responses if r.source == "marker"
                and (by == "protocol" or r.condition == group)]
        mes = [r for r in sr.responses if r.source == "me" and inside(r.time)]
        me_events = [e for e in data.me_events if inside(e.onset)]
        reports = [r for r in sr.self_reports if by == "protocol" or r.get("condition") == group]
        rows.append({
            "participant": sr.participant, "group": str(group), "session": data.label,
            "duration_min": seconds / 60.0, "has_me": data.me_source is not None,
            "hr_mean_bpm": hr, "scr_count": scr,
            "me_durations": [e.duration_s for e in me_events],
            "stim_hr": [r.hr_change_bpm for r in stim], "stim_scr": [r.scr_amplitude for r in stim],
            "me_hr": [r.hr_change_bpm for r in mes], "me_scr": [r.scr_amplitude for r in mes],
            "me_emg": [r.emg_max for r in mes],
            **{f"self_{k}": [r[k] for r in reports if r.get(k) is not None] for k in SELF_REPORT_SCALES},
        })
    return rows


def study_paths(db: str | None = None, *, participant: str | None = None,
                protocol: str | None = None) -> list[Path]:
    """Session folders of a catalog query (``Catalog(db).list_sessions``; protocol: exact)."""
    from acquisition.catalog import Catalog

    cat = Catalog(db)
    try:
        rows = cat.list_sessions(participant=participant)
    finally:
        cat.close()
    if protocol is not None:
        rows = [r for r in rows if (r.get("protocol") or "") == protocol]
    return [Path(r["folder"]) for r in rows if r.get("folder")]


def read_self_reports(folder: Path | None, meta: dict) -> list[dict]:
    """The ``self_report`` rows of a protocol run's ``responses.csv`` (none without one), read as
    the catalog reads them (:func:`acquisition.catalog.responses.read_responses`: the scales as
    numbers, None where empty or not a number)."""
    from acquisition.catalog.responses import read_responses

    if folder is None:
        return []
    rows, _warnings = read_responses(Path(folder), meta)
    return [r for r in rows if r.get("kind") == "self_report"]


def analyse_session(path, *, names: dict | None = None, windows: Windows = Windows()) -> SessionResult:
    pa = analyse(path, **(names or {}))
    data = pa.session
    return SessionResult(physio=pa, responses=event_responses(pa, windows),
                         spans=condition_spans(data), self_reports=read_self_reports(data.folder, data.meta))


def analyse_study(paths, *, by: str = "protocol", names: dict | None = None,
                  windows: Windows = Windows(), design: str = "auto",
                  progress: Callable[[str], None] | None = None,
                  sessions: list[SessionResult] | None = None) -> StudyResult:
    """Analyse every session of ``paths`` (or reuse ``sessions``) and test the groups (module doc).

    A session that cannot be read is left out with a note; when none can, the first error is
    raised. ``names``: stream names for :func:`analysis.physio.analyse` (ecg, ppg, eda, emg).
    """
    if by not in ("protocol", "condition"):
        raise MexlabError(f"cannot group by {by!r}: use 'protocol' or 'condition'")
    notes: list[str] = []
    results = list(sessions or [])
    paths = list(paths or [])
    first_error: MexlabError | None = None
    for i, path in enumerate(paths, 1):
        if progress:
            progress(f"[{i}/{len(paths)}] analysing {path}")
        try:
            sr = analyse_session(path, names=names, windows=windows)
            seen = [r for r in results if r.session.session_id == sr.session.session_id]
            if seen:
                notes.append(f"{path} left out: the same session as {seen[0].session.path}")
                continue
            results.append(sr)
        except MexlabError as exc:
            first_error = first_error or exc
            notes.append(f"{path} left out: {exc}")
    if not results:
        if first_error is not None:
            raise first_error
        raise MexlabError("no sessions to analyse (give session folders or XDF files, or a catalog query "
                          "that finds some)")
    rows = []
    for sr in results:
        got = session_rows(sr, by)
        if not got and by == "condition":
            notes.append(f"{sr.session.label}: no marker with a 'condition' field; not in the "
                         f"condition analysis")
        if sr.session.participant is None:
            notes.append(f"{sr.session.label}: no participant pseudonym; counted as its own participant")
        rows.extend(got)
    if progress:
        progress(f"testing {len(rows)} row(s) grouped by {by}")
    table = aggregate(rows)
    tests, corrs = run_tests(table, design) if len(table) else ([], [])
    if table["group"].nunique() < 2:
        notes.append(f"only one {by} in the study ({', '.join(map(str, table['group'].unique())) or 'none'});"
                     f" no group comparison is possible")
    for sr in results:
        notes.extend(f"{sr.session.label}: {n}" for n in sr.physio.notes)
        notes.extend(f"{sr.session.label}: no {k.upper()}: {why}" for k, why in sr.physio.missing.items())
    return StudyResult(by=by, sessions=results, table=table, tests=tests, correlations=corrs,
                       notes=notes)
