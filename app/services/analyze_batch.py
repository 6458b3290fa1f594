"""Analyse many sessions from the Analyze workspace, without Qt: which sessions (the catalog's, chosen
by participant, protocol and status: the selection of ``mexlab spot/recognize/physio``,
:func:`analysis.study.select_sessions`), one action on each (:mod:`analysis.batch_jobs`: spotting,
recognition, physiology) run by :func:`analysis.batch.run_batch` (worker processes, current results
skipped, Cancel), and the table the workspace shows: one row per session with its state while it
runs (queued, its stage and per cent) and at the end (done with what it found, skipped because its
result is current, failed with the reason, cancelled).

The widget calls :meth:`BatchRun.run` in a worker thread, hands each progress snapshot to the GUI
thread and calls :meth:`BatchRun.apply` there; tests drive the same object without a display.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from analysis.batch import BatchResult, BatchStatus, Job, run_batch

ACTIONS = (
    ("spot", "Spotting (analysis/spotting.json)"),
    ("recognize", "Recognition of the micro intervals (analysis/recognition.json)"),
    ("physio", "Physiology (analysis/physio.json)"),
)
STATUSES = ("complete", "aborted", "interrupted", "recording", "unknown")  # mexlab … --status
COLUMNS = ("session", "participant", "state", "s", "result / reason")


@dataclass(frozen=True)
class Selection:
    """A catalog query: None means any (all three None: every session in the catalog)."""

    participant: str | None = None
    protocol: str | None = None  # "" : sessions without a protocol
    status: str | None = None

    def describe(self) -> str:
        bits = [
            f"participant {self.participant}" if self.participant is not None else "",
            f"protocol {self.protocol or '(none)'}" if self.protocol is not None else "",
            f"status {self.status}" if self.status is not None else "",
        ]
        return ", ".join(b for b in bits if b) or "all sessions in the catalog"


def choices(rows: Iterable[dict]) -> dict[str, list[str]]:
    """The values the selection offers, from the catalog's rows: participants, protocols (""
    for sessions without one), statuses (the five of ``--status``)."""
    rows = list(rows)
    return {
        "participant": sorted({r["participant"] for r in rows if r.get("participant")}),
        "protocol": sorted({r.get("protocol") or "" for r in rows}),
        "status": list(STATUSES),
    }


def preview(rows: Iterable[dict], sel: Selection) -> list[dict]:
    """The catalog rows ``sel`` selects (the count shown before running; the run itself asks the
    catalog again through :func:`select_sessions`)."""
    from analysis.study import study_rows

    rows = [r for r in rows if sel.participant is None or r.get("participant") == sel.participant]
    return [r for r in study_rows(rows, protocol=sel.protocol, status=sel.status) if r.get("folder")]


def select(db_url: str | None, sel: Selection) -> list[Path]:
    """The sessions of ``sel``: :func:`analysis.study.select_sessions` with a catalog query, as
    ``mexlab spot --db URL --participant … --protocol … --status …`` makes it (MexlabError when it
    finds none)."""
    from acquisition.catalog.connection import resolve_url
    from analysis.study import select_sessions

    return select_sessions(
        db=resolve_url(db_url), participant=sel.participant, protocol=sel.protocol, status=sel.status
    )


def make_jobs(action: str, paths: Iterable[str | Path], *, interference: bool = True, model: str | None = None):
    """The jobs of ``action`` on ``paths``, with the parameters the CLI gives them."""
    if action == "spot":
        return [Job.of("spot", p, interference=interference, use_cache=True) for p in paths]
    if action == "recognize":
        return [Job.of("recognize", p, model=str(model) if model else None) for p in paths]
    if action == "physio":
        return [Job.of("physio", p, names={}) for p in paths]
    from acquisition.errors import InputError

    raise InputError(f"unknown action {action!r}: one of {', '.join(a for a, _ in ACTIONS)}")


@dataclass
class Row:
    path: str
    participant: str = ""
    state: str = "queued"  # queued | running | done | skipped | failed | cancelled
    fraction: float = 0.0
    stage: str = ""
    seconds: float | None = None
    detail: str = ""  # what was found (done), why (skipped, failed)

    def cells(self) -> tuple[str, ...]:
        state = f"{self.stage} {100 * self.fraction:.0f}%" if self.state == "running" else self.state
        secs = f"{self.seconds:.1f}" if self.seconds is not None and self.state == "done" else ""
        return (self.path, self.participant, state, secs, self.detail)


def snapshot(st: BatchStatus) -> BatchStatus:
    """A copy of ``st`` safe to hand to another thread (run_batch goes on changing its own)."""
    out = copy.copy(st)
    out.running = dict(st.running)
    return out


class BatchRun:
    """One batch of the Analyze workspace: its jobs, the table's rows and the progress."""

    def __init__(self, action: str, jobs: list[Job], participants: dict[str, str] | None = None):
        self.action = action
        self.jobs = jobs
        self.rows = [Row(j.path, (participants or {}).get(j.path, "")) for j in jobs]
        self._index = {j.path: i for i, j in enumerate(jobs)}
        self.status = BatchStatus(total=len(jobs))
        self.result: BatchResult | None = None
        self.cancel = threading.Event()

    @classmethod
    def of(cls, action: str, paths: list[Path], catalog_rows: Iterable[dict] = (), **params) -> BatchRun:
        who = {str(Path(r["folder"])): r.get("participant") or "" for r in catalog_rows if r.get("folder")}
        jobs = make_jobs(action, paths, **params)
        return cls(action, jobs, {j.path: who.get(j.path, "") for j in jobs})

    # -- in the worker thread ---------------------------------------------------------------
    def run(
        self,
        *,
        workers: int | None = None,
        force: bool = False,
        on_progress: Callable[[BatchStatus], None] | None = None,
    ) -> BatchResult:
        """Run the jobs (blocking: a worker thread). ``on_progress`` gets a copy of each status
        (:func:`snapshot`) for :meth:`apply` on the caller's side; :meth:`stop` cancels."""
        cb = (lambda st: on_progress(snapshot(st))) if on_progress is not None else None
        return run_batch(self.jobs, workers=workers, force=force, on_progress=cb, cancel=self.cancel)

    def stop(self) -> None:
        """Cancel: queued sessions are dropped, running ones stop at their next progress step."""
        self.cancel.set()

    # -- on the GUI side --------------------------------------------------------------------
    def apply(self, st: BatchStatus) -> None:
        """Take a progress snapshot: the running sessions' stages, the session that just ended."""
        self.status = st
        for path, (frac, stage) in st.running.items():
            i = self._index.get(path)
            if i is not None and self.rows[i].state in ("queued", "running"):
                r = self.rows[i]
                r.state, r.fraction, r.stage = "running", frac, stage
        if st.last is not None:
            self._outcome(st.last)

    def finish(self, result: BatchResult) -> None:
        """Take the batch's result: every row's final state (a session never started: cancelled)."""
        self.result = result
        for out in result.outcomes:
            self._outcome(out)

    def _outcome(self, out) -> None:
        from analysis.batch_jobs import describe

        i = self._index.get(out.job.path)
        if i is None:
            return
        r = self.rows[i]
        r.state, r.seconds = out.status, out.seconds
        if out.status == "done":
            r.detail = describe(out.job.action, out.result)
        elif out.status == "skipped":
            r.detail = "results current (same files, parameters and code); tick Recompute to run it again"
        elif out.status == "failed":
            r.detail = out.error or "failed"
        else:
            r.detail = "cancelled before it ended; nothing was written"

    @property
    def running(self) -> bool:
        return self.result is None

    def counts(self) -> dict[str, int]:
        return {k: sum(1 for r in self.rows if r.state == k) for k in ("done", "skipped", "failed", "cancelled")}

    def status_line(self) -> str:
        """While running: sessions finished, overall per cent, elapsed, ETA; at the end: the summary."""
        if self.result is not None:
            return self.result.summary() + (" — cancelled" if self.result.cancelled else "")
        st = self.status
        eta = f"{st.eta_s:.0f} s" if st.eta_s is not None else "?"
        return (
            f"{st.finished}/{st.total} session(s) finished, {100 * st.fraction:.0f}% overall, "
            f"{st.elapsed_s:.0f} s elapsed, ETA {eta}" + (" — cancelling …" if self.cancel.is_set() else "")
        )

    def table(self) -> list[tuple[str, ...]]:
        return [r.cells() for r in self.rows]
