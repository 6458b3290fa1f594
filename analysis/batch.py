"""Many sessions, one action, every core: the batch runner of ``mexlab spot/recognize/physio/report``.

:func:`run_batch` takes jobs (an action of :mod:`analysis.batch_jobs` on one session folder or
file) and runs them in worker processes (``concurrent.futures`` with the *spawn* start method, so a
worker never inherits the caller's threads, Qt or open files), or in this process when ``workers``
is 1. It

* skips a job whose result is current: the key of the job (content fingerprints of its input files,
  its parameters, a digest of the code that computes it; :func:`analysis.batch_jobs.job_key`) is
  stored next to the result (``<result>.key``) and compared before anything runs;
* reports progress through ``on_progress(BatchStatus)`` — every running session's stage and
  fraction, the overall fraction and an ETA — from the caller's thread, at most ~4 times a second;
* goes on past a failing session (its error is kept in its :class:`Outcome`);
* stops when ``cancel`` (a ``threading.Event``) is set or on ``KeyboardInterrupt``: queued jobs are
  dropped, running workers are told to stop at their next progress step and are terminated after
  a grace period; results are written by temp-and-rename, so a stopped job leaves no half file.

Nothing here imports Qt; the GUI calls :func:`run_batch` from a worker thread with its own
``on_progress`` and ``cancel``.
"""

from __future__ import annotations

import os
import queue as queue_mod
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    action: str  # a name in analysis.batch_jobs.ACTIONS
    path: str  # a session folder, a video or an XDF file
    params: tuple = ()  # sorted (name, value) pairs: hashable, picklable

    @staticmethod
    def of(action: str, path: str | Path, **params: Any) -> Job:
        return Job(action, str(path), tuple(sorted(params.items())))


@dataclass
class Outcome:
    job: Job
    status: str  # done | skipped | failed | cancelled
    seconds: float = 0.0
    error: str | None = None
    result: object = None  # what the action returned (a summary dict, or a SessionResult)


@dataclass
class BatchStatus:
    total: int
    finished: int = 0  # done + skipped + failed
    failed: int = 0
    skipped: int = 0
    running: dict = field(default_factory=dict)  # path -> (fraction 0..1, stage)
    elapsed_s: float = 0.0
    fraction: float = 0.0
    eta_s: float | None = None
    last: Outcome | None = None  # the outcome that just arrived (None for a progress tick)


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    seconds: float
    workers: int
    cancelled: bool = False

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.cancelled and not self.failed

    def counts(self) -> dict[str, int]:
        """How many sessions ended done, skipped, failed and cancelled."""
        return {k: sum(1 for o in self.outcomes if o.status == k) for k in ("done", "skipped", "failed", "cancelled")}

    def summary(self) -> str:
        """One line: ``N session(s) in S s with W worker(s): a done, b skipped (results current), c failed``
        (and cancelled ones when any): what ``mexlab spot/recognize/physio`` print at the end and what
        the Analyze workspace shows."""
        n = self.counts()
        return (
            f"{len(self.outcomes)} session(s) in {self.seconds:.1f} s with {self.workers} worker(s): "
            f"{n['done']} done, {n['skipped']} skipped (results current), {n['failed']} failed"
            + (f", {n['cancelled']} cancelled" if n["cancelled"] else "")
        )


class Cancelled(Exception):
    """Raised inside a job's progress callback when the batch was cancelled."""


# --- inside a worker -------------------------------------------------------------------------

_W: dict = {}


def _worker_init(progress_q, cancel_ev) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one core per worker, no oversubscription
    _W["q"], _W["cancel"] = progress_q, cancel_ev


def _execute(job: Job, progress_q, cancel_ev, compute_key: bool) -> Outcome:
    from acquisition.errors import MexlabError
    from analysis import batch_jobs

    last = [0.0]

    def progress(done: int, total: int, stage: str) -> None:
        if cancel_ev is not None and cancel_ev.is_set():
            raise Cancelled()
        now = time.monotonic()
        if progress_q is not None and (now - last[0] > 0.25 or done >= total):
            last[0] = now
            try:
                progress_q.put_nowait((job.path, done / total if total else 0.0, stage))
            except Exception:  # noqa: BLE001,S110 - a full or closed queue never stops the work
                pass

    t0 = time.perf_counter()
    try:
        progress(0, 1, "started")
        from analysis.face.landmarker import quiet_native_start

        with quiet_native_start():  # MediaPipe's start-up chatter kept off the one display
            result = batch_jobs.run_job(job, progress, store_key=compute_key)
        return Outcome(job, "done", time.perf_counter() - t0, result=result)
    except Cancelled:
        return Outcome(job, "cancelled", time.perf_counter() - t0)
    except MexlabError as exc:
        return Outcome(job, "failed", time.perf_counter() - t0, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a defect or a library's error: listed, the batch goes on
        return Outcome(job, "failed", time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")


def _pool_execute(job: Job, compute_key: bool) -> Outcome:
    return _execute(job, _W.get("q"), _W.get("cancel"), compute_key)


# --- the caller's side -----------------------------------------------------------------------


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The most worker processes a batch may ask for: 4 per core (each holds a session's video,
    models and results in memory, ~0.4 GB when spotting)."""
    return 4 * default_workers()


def run_batch(
    jobs: list[Job],
    *,
    workers: int | None = None,
    force: bool = False,
    on_progress: Callable[[BatchStatus], None] | None = None,
    cancel: threading.Event | None = None,
    grace_s: float = 5.0,
) -> BatchResult:
    """Run ``jobs`` (module doc); the outcomes come back in the order of ``jobs``."""
    from analysis import batch_jobs

    t0 = time.monotonic()
    workers = max(1, int(workers or default_workers()))
    status = BatchStatus(total=len(jobs))
    outcomes: dict[int, Outcome] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        if not force and batch_jobs.is_current(job):
            outcomes[i] = Outcome(job, "skipped")
            status.finished += 1
            status.skipped += 1
            status.last = outcomes[i]
            _tick(status, t0, on_progress)
        else:
            todo.append(i)
    cancelled = False
    if todo:
        run = _run_pool if workers > 1 and len(todo) > 1 else _run_here
        cancelled = run([(i, jobs[i]) for i in todo], workers, status, outcomes, t0, on_progress, cancel, grace_s)
    for i, job in enumerate(jobs):
        outcomes.setdefault(i, Outcome(job, "cancelled"))
    status.last = None
    _tick(status, t0, on_progress, force=True)
    return BatchResult([outcomes[i] for i in range(len(jobs))], time.monotonic() - t0, workers, cancelled)


def _record(status: BatchStatus, outcomes: dict, i: int, out: Outcome) -> None:
    outcomes[i] = out
    status.running.pop(out.job.path, None)
    if out.status != "cancelled":
        status.finished += 1
    if out.status == "failed":
        status.failed += 1
    status.last = out


def _tick(status: BatchStatus, t0: float, cb, force: bool = False) -> None:
    status.elapsed_s = time.monotonic() - t0
    work = status.finished + sum(f for f, _ in status.running.values())
    status.fraction = work / status.total if status.total else 1.0
    real = status.finished - status.skipped + sum(f for f, _ in status.running.values())
    left = status.total - status.finished - sum(f for f, _ in status.running.values())
    status.eta_s = status.elapsed_s * left / real if real > 0.02 else None
    if cb is not None:
        cb(status)
    status.last = None  # an outcome is reported once


class _Here:
    """The progress "queue" of a job run in this process: each report updates the status and is
    passed on (the job's own throttle: at most ~4 a second)."""

    def __init__(self, status: BatchStatus, t0: float, cb) -> None:
        self.status, self.t0, self.cb = status, t0, cb

    def put_nowait(self, item) -> None:
        path, frac, stage = item
        if path in self.status.running:
            self.status.running[path] = (frac, stage)
            _tick(self.status, self.t0, self.cb)


def _run_here(items, workers, status, outcomes, t0, cb, cancel, grace_s) -> bool:
    q = _Here(status, t0, cb)
    ev = cancel or threading.Event()
    try:
        for i, job in items:
            if ev.is_set():
                return True
            status.running[job.path] = (0.0, "starting")
            out = _execute(job, q, ev, True)
            _record(status, outcomes, i, out)
            _tick(status, t0, cb)
            if out.status == "cancelled":
                return True
    except KeyboardInterrupt:
        return True
    return False


def _run_pool(items, workers, status, outcomes, t0, cb, cancel, grace_s) -> bool:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ev = ctx.Event()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(items)), mp_context=ctx, initializer=_worker_init, initargs=(q, ev)
    )
    futs = {pool.submit(_pool_execute, job, True): (i, job) for i, job in items}
    pending = set(futs)
    cancelled = False
    last_tick = 0.0
    try:
        while pending:
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    path, frac, stage = q.get_nowait()
                except (queue_mod.Empty, OSError, ValueError):
                    break
                if any(j.path == path for f, (_, j) in futs.items() if f in pending):
                    status.running[path] = (frac, stage)
            for f in done:
                i, job = futs[f]
                try:
                    out = f.result()
                except BrokenProcessPool:
                    out = Outcome(
                        job,
                        "failed",
                        error="its worker process died (killed, or a crash in native code while processing it)",
                    )
                except Exception as exc:  # noqa: BLE001 - the job could not be sent or its result not returned
                    out = Outcome(job, "failed", error=f"{type(exc).__name__}: {exc}")
                _record(status, outcomes, i, out)
                _tick(status, t0, cb)
            now = time.monotonic()
            if now - last_tick > 0.25:
                last_tick = now
                _tick(status, t0, cb)
    except KeyboardInterrupt:
        cancelled = True
        ev.set()
        for f in pending:
            f.cancel()
        end = time.monotonic() + grace_s
        while time.monotonic() < end and any(not f.done() for f in pending):
            time.sleep(0.1)
        for p in list(getattr(pool, "_processes", {}).values()):  # still running after the grace
            if p.is_alive():
                p.terminate()
        for f in pending:
            i, job = futs[f]
            if f.done() and not f.cancelled():
                try:
                    _record(status, outcomes, i, f.result())
                except Exception:  # noqa: BLE001,S110 - a result lost while stopping is left cancelled
                    pass
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        q.close()
    return cancelled
