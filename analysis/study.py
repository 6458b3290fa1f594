"""A study: many sessions analysed, tabulated per participant and paradigm or condition, tested.

:func:`analyse_study` runs :func:`analysis.physio.analyse` and
:func:`analysis.physio.events.event_responses` on every session, turns each into rows (one per
session and group), pools them per participant and group (:func:`analysis.stats.aggregate`) and
runs the tests (:func:`analysis.stats.run_tests`). :func:`select_sessions` is the one selection of a
study's sessions (paths and/or a catalog query). A session without a participant pseudonym counts as its own participant (its folder
name). Sessions whose protocol was aborted are left out unless asked for (``include_aborted``); ME
events are spotting results, never the simulated rig's ground truth unless asked for
(``use_truth``), and each session carries its health verdict (:mod:`acquisition.health`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import DataError, InputError, MexlabError, NotFoundError
from acquisition.session_read.names import GROUND_TRUTH_NAME
from analysis.physio import PhysioAnalysis, analyse
from analysis.physio.events import (
    EventResponse,
    Windows,
    condition_spans,
    event_responses,
)
from analysis.stats import Correlation, TestResult, aggregate, run_tests

if TYPE_CHECKING:
    from analysis.session_data import SessionData

NO_PROTOCOL = "(no protocol)"
SELF_REPORT_SCALES = ("intensity", "valence", "arousal")  # columns of responses.csv


@dataclass
class SessionResult:
    physio: PhysioAnalysis
    responses: list[EventResponse]
    spans: list[tuple[float, float, str]]  # condition spans (LSL s)
    self_reports: list[dict] = field(default_factory=list)  # the self_report rows of responses.csv
    health: dict | None = None  # acquisition.health verdict (session folders)
    status: str | None = None  # complete, aborted, interrupted, … (session folders)
    status_detail: str | None = None  # e.g. "aborted at step 7 of 24, …"
    truth_not_used: bool = False  # ground_truth.csv there, not spotted, not used

    @property
    def session(self) -> SessionData:
        return self.physio.session

    @property
    def participant(self) -> str:
        return self.session.participant or self.session.label


@dataclass
class StudyResult:
    by: str
    sessions: list[SessionResult]
    table: object  # pandas DataFrame (analysis.stats.aggregate)
    tests: list[TestResult]
    correlations: list[Correlation]
    notes: list[str] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)  # {"path", "why"}: sessions left out on purpose
    truth_used: list[str] = field(default_factory=list)  # sessions whose MEs are the rig's ground truth

    def to_json(self) -> dict:
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {
            "by": self.by,
            "sessions": [s.session.label for s in self.sessions],
            "health": {s.session.label: s.health for s in self.sessions},
            "excluded": list(self.excluded),
            "ground_truth_used": list(self.truth_used),
            "table": rows,
            "tests": [t.to_json() for t in self.tests],
            "correlations": [c.to_json() for c in self.correlations],
            "notes": list(self.notes),
        }


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
        raise InputError(f"cannot group by {by!r}: use 'protocol' or 'condition'")
    rows = []
    for group, spans in pieces.items():

        def inside(t: float, spans: list = spans) -> bool:
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
        stim = [r for r in sr.responses if r.source == "marker" and (by == "protocol" or r.condition == group)]
        mes = [r for r in sr.responses if r.source == "me" and inside(r.time)]
        me_events = [e for e in data.me_events if inside(e.onset)]
        reports = [r for r in sr.self_reports if by == "protocol" or r.get("condition") == group]
        rows.append(
            {
                "participant": sr.participant,
                "group": str(group),
                "session": data.label,
                "duration_min": seconds / 60.0,
                "has_me": data.me_source is not None,
                "hr_mean_bpm": hr,
                "scr_count": scr,
                "me_durations": [e.duration_s for e in me_events],
                "stim_hr": [r.hr_change_bpm for r in stim],
                "stim_scr": [r.scr_amplitude for r in stim],
                "me_hr": [r.hr_change_bpm for r in mes],
                "me_scr": [r.scr_amplitude for r in mes],
                "me_emg": [r.emg_max for r in mes],
                **{f"self_{k}": [r[k] for r in reports if r.get(k) is not None] for k in SELF_REPORT_SCALES},
            }
        )
    return rows


def study_rows(rows: Iterable[dict], *, protocol: str | None = None, status: str | None = None) -> list[dict]:
    """The catalog rows (``folder``, ``protocol``, ``status``) of one study: those of ``protocol``
    (a session without one matches ``""``) and, when given, of ``status``; order kept. The one filter
    of :func:`select_sessions` and of the GUI's study (``AnalyzeModel.study_selection``)."""
    return [
        r
        for r in rows
        if (protocol is None or (r.get("protocol") or "") == (protocol or ""))
        and (status is None or r.get("status") == status)
    ]


def select_sessions(
    paths: Iterable[str | Path] = (),
    *,
    db: str | None = None,
    participant: str | None = None,
    protocol: str | None = None,
    status: str | None = None,
) -> list[Path]:
    """The sessions of a study: the ``paths`` given, plus those of a catalog query when any of
    ``db``, ``participant``, ``protocol`` or ``status`` is given (``Catalog(db).list_sessions``;
    participant, protocol and status exact). ``status`` also filters the ``paths`` that are session
    folders (by :func:`acquisition.session.effective_status`). The one session selection of
    ``mexlab spot/recognize/physio/stats/report`` and of the GUI's study; duplicates are dropped,
    the order kept. MexlabError when the query finds nothing or nothing is selected."""
    from acquisition.session import effective_status, is_session_folder, read_sidecar

    out: list[Path] = []
    for p in paths or ():
        p = Path(p)
        if status is not None and is_session_folder(p):
            try:
                if effective_status(read_sidecar(p)) != status:
                    continue
            except MexlabError:
                pass  # unreadable: kept, so its error is reported where used
        if p not in out:
            out.append(p)
    if db is not None or participant is not None or protocol is not None or status is not None:
        from acquisition.catalog import Catalog

        cat = Catalog(db)
        try:
            rows = cat.list_sessions(participant=participant, status=status)
        finally:
            cat.close()
        found = [Path(r["folder"]) for r in study_rows(rows, protocol=protocol) if r.get("folder")]
        if not found and not out:
            raise NotFoundError(
                "the catalog query found no sessions"
                + (f" of participant {participant!r}" if participant else "")
                + (f" with protocol {protocol!r}" if protocol else "")
                + (f" with status {status!r}" if status else "")
            )
        out += [f for f in found if f not in out]
    if not out:
        raise InputError(
            "no sessions given: name session folders or files, or query the catalog "
            "with --db/--participant/--protocol/--status"
        )
    return out


def study_paths(db: str | None = None, *, participant: str | None = None, protocol: str | None = None) -> list[Path]:
    """Session folders of a catalog query (:func:`select_sessions` without paths; [] when none)."""
    try:
        return select_sessions(db=db, participant=participant, protocol=protocol)
    except MexlabError:
        return []


def read_self_reports(folder: Path | None, meta: dict) -> list[dict]:
    """The ``self_report`` rows of a protocol run's ``responses.csv`` (none without one), read as
    the catalog reads them (:func:`acquisition.catalog.responses.read_responses`: the scales as
    numbers, None where empty or not a number)."""
    from acquisition.catalog.responses import read_responses

    if folder is None:
        return []
    rows, _warnings = read_responses(Path(folder), meta)
    return [r for r in rows if r.get("kind") == "self_report"]


def session_state(path: str | Path) -> tuple[str | None, str | None, dict | None]:
    """``(status, status detail, health)`` of a session folder (all None for a plain XDF file), from
    its check (:func:`acquisition.check.check_path`, the verdict of :mod:`acquisition.health`)."""
    from acquisition.catalog.db import check_for_catalog
    from acquisition.session import is_session_folder

    path = Path(path)
    if not is_session_folder(path):
        return None, None, None
    report = check_for_catalog(path)
    return report.get("status"), report.get("status_detail"), report.get("health")


def analyse_session(
    path: str | Path, *, names: dict | None = None, windows: Windows = Windows(), use_truth: bool = False
) -> SessionResult:
    """One session analysed. Its ME events are spotting results (``analysis/spotting.json``) only:
    the simulated rig's ``ground_truth.csv`` is used in their place only with ``use_truth`` (and
    the report then says so on the page)."""
    from acquisition.session import GROUND_TRUTH_NAME

    pa = analyse(path, **(names or {}))
    data = pa.session
    truth_not_used = False
    if data.me_source == GROUND_TRUTH_NAME and not use_truth:
        data.me_events, data.me_source, truth_not_used = [], None, True
    status, detail, health = session_state(path)
    return SessionResult(
        physio=pa,
        responses=event_responses(pa, windows),
        spans=condition_spans(data),
        self_reports=read_self_reports(data.folder, data.meta),
        health=health,
        status=status,
        status_detail=detail,
        truth_not_used=truth_not_used,
    )


def analyse_study(
    paths: Iterable[str | Path],
    *,
    by: str = "protocol",
    names: dict | None = None,
    windows: Windows = Windows(),
    design: str = "auto",
    progress: Callable[[str], None] | None = None,
    sessions: list[SessionResult] | None = None,
    include_aborted: bool = False,
    use_truth: bool = False,
    analysed: dict | None = None,
) -> StudyResult:
    """Analyse every session of ``paths`` (or reuse ``sessions``) and test the groups (module doc).

    A session that cannot be read is left out with a note; when none can, the first error is
    raised. ``names``: stream names for :func:`analysis.physio.analyse` (ecg, ppg, eda, emg).
    A session whose protocol was aborted is left out unless ``include_aborted`` (``excluded`` and
    the notes say so). ME events are spotting results only; ``use_truth`` takes the simulated rig's
    ``ground_truth.csv`` for sessions not spotted (``truth_used`` names them; the report shows a
    banner). ``analysed``: ``str(path)`` -> a SessionResult or the MexlabError its analysis raised,
    computed beforehand (by worker processes, :mod:`analysis.batch`), used instead of analysing again.
    """
    from acquisition.session import is_session_folder, read_sidecar

    if by not in ("protocol", "condition"):
        raise InputError(f"cannot group by {by!r}: use 'protocol' or 'condition'")
    notes: list[str] = []
    excluded: list[dict] = []
    results = list(sessions or [])
    paths = list(paths or [])
    first_error: MexlabError | None = None
    for i, path in enumerate(paths, 1):
        if progress:
            progress(f"[{i}/{len(paths)}] analysing {path}")
        try:
            if not include_aborted and is_session_folder(Path(path)):
                from acquisition.session import status_detail

                meta = read_sidecar(Path(path))
                if meta.get("status") == "aborted":
                    why = (
                        status_detail(meta) or "protocol aborted"
                    ) + " (the protocol did not run to its end; --include-aborted to include it)"
                    excluded.append({"path": str(path), "why": why})
                    notes.append(f"{path} left out: {why}")
                    continue
            sr = (analysed or {}).get(str(path))
            if isinstance(sr, MexlabError):
                raise sr
            if sr is None:
                sr = analyse_session(path, names=names, windows=windows, use_truth=use_truth)
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
        if excluded:
            raise DataError(
                f"no sessions to analyse: all {len(excluded)} were aborted protocol runs "
                f"(--include-aborted to include them)"
            )
        raise DataError(
            "no sessions to analyse (give session folders or XDF files, or a catalog query that finds some)"
        )
    truth_used = [sr.session.label for sr in results if sr.session.me_source == GROUND_TRUTH_NAME]
    for sr in results:
        if sr.truth_not_used:
            notes.append(
                f"{sr.session.label}: not spotted (no analysis/spotting.json), so no ME events; "
                f"the simulated rig's ground_truth.csv is not used as results (run 'mexlab spot', "
                f"or --use-ground-truth to use the truth, marked as such)"
            )
        if sr.status == "aborted" and include_aborted:
            notes.append(f"{sr.session.label}: included although {sr.status_detail or 'aborted'}")
    rows = []
    for sr in results:
        got = session_rows(sr, by)
        if not got and by == "condition":
            notes.append(f"{sr.session.label}: no marker with a 'condition' field; not in the condition analysis")
        if sr.session.participant is None:
            notes.append(f"{sr.session.label}: no participant pseudonym; counted as its own participant")
        rows.extend(got)
    if progress:
        progress(f"testing {len(rows)} row(s) grouped by {by}")
    table = aggregate(rows)
    tests, corrs = run_tests(table, design) if len(table) else ([], [])
    if table["group"].nunique() < 2:
        notes.append(
            f"only one {by} in the study ({', '.join(map(str, table['group'].unique())) or 'none'});"
            f" no group comparison is possible"
        )
    for sr in results:
        notes.extend(f"{sr.session.label}: {n}" for n in sr.physio.notes)
        notes.extend(f"{sr.session.label}: no {k.upper()}: {why}" for k, why in sr.physio.missing.items())
    return StudyResult(
        by=by,
        sessions=results,
        table=table,
        tests=tests,
        correlations=corrs,
        notes=notes,
        excluded=excluded,
        truth_used=truth_used,
    )
