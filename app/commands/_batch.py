"""Many sessions at once for ``mexlab spot/recognize/physio/report``: the options, the progress
display on stderr, the closing list of errors (:func:`analysis.batch.run_batch` does the work)."""

from __future__ import annotations

import sys
import time


def worker_count(text: str) -> int:
    """``--workers``: an integer from 1 to :func:`analysis.batch.max_workers` (argparse refuses
    anything else)."""
    import argparse

    from analysis.batch import max_workers

    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= max_workers():
        raise argparse.ArgumentTypeError(
            f"{text!r}: an integer from 1 to {max_workers()} (4 per core; 1 = one session after another)"
        )
    return n


def add_batch_args(p) -> None:
    g = p.add_argument_group("many sessions")
    g.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="worker processes (default: one per core; 1 = in this process, one after another; at most 4 per core)",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="recompute results that are current (by default a session whose result was made "
        "from the same files, parameters and code is skipped)",
    )


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "?"
    s = round(s)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Display:
    """One progress display on stderr: a rewritten line on a terminal, a line every few seconds
    otherwise; each finished session gets its own line."""

    def __init__(self, command: str, quiet: bool = False, stream=None):
        self.command = command
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.width = 0

    def __call__(self, st) -> None:
        if self.quiet:
            return
        out = st.last
        if out is not None:
            self._clear()
            extra = f" ({out.seconds:.1f} s)" if out.status == "done" else ""
            why = f": {out.error}" if out.error else ""
            print(
                f"mexlab {self.command}: [{st.finished}/{st.total}] {out.status} {out.job.path}{extra}{why}",
                file=self.stream,
                flush=True,
            )
        now = time.monotonic()
        if now - self.last < (0.25 if self.tty else 5.0) and out is None:
            return
        self.last = now
        running = "  ".join(f"{_short(p)} {s} {100 * f:.0f}%" for p, (f, s) in st.running.items())
        line = (
            f"mexlab {self.command}: {st.finished}/{st.total} sessions, {100 * st.fraction:.0f}% "
            f"overall, {_fmt_s(st.elapsed_s)} elapsed, ETA {_fmt_s(st.eta_s)}" + (f"  | {running}" if running else "")
        )
        if self.tty:
            self._clear()
            self.stream.write(line[:200])
            self.width = len(line[:200])
            self.stream.flush()
        elif out is None:
            print(line, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0

    def close(self) -> None:
        self._clear()


def _short(path: str, n: int = 24) -> str:
    from pathlib import Path

    name = Path(path).name
    return name if len(name) <= n else "…" + name[-(n - 1) :]


def run_jobs(command: str, jobs, args, quiet: bool = False):
    """Run ``jobs`` with the display; returns ``(BatchResult, exit status)``. Errors are listed at
    the end; the status is 1 when any session failed, 130 when cancelled with Ctrl+C."""
    from analysis.batch import run_batch

    disp = Display(command, quiet=quiet)
    try:
        res = run_batch(
            jobs, workers=getattr(args, "workers", None), force=getattr(args, "force", False), on_progress=disp
        )
    finally:
        disp.close()
    print(f"mexlab {command}: {res.summary()}", file=sys.stderr)  # the line the Analyze workspace shows too
    for o in res.failed:
        print(f"mexlab {command}: error: {o.job.path}: {o.error}", file=sys.stderr)
    if res.cancelled:
        print(f"mexlab {command}: cancelled", file=sys.stderr)
        return res, 130
    return res, (1 if res.failed else 0)


def print_outcomes(res, as_json: bool, action: str) -> None:
    """Each session's outcome on stdout: one line each (a done one described as the Analyze
    workspace's batch table describes it, :func:`analysis.batch_jobs.describe`), or one JSON object."""
    import json

    from analysis.batch_jobs import describe

    if as_json:
        print(
            json.dumps(
                {
                    "workers": res.workers,
                    "seconds": round(res.seconds, 2),
                    "sessions": [
                        {
                            "path": o.job.path,
                            "status": o.status,
                            "seconds": round(o.seconds, 2),
                            "error": o.error,
                            "result": o.result if isinstance(o.result, dict) else None,
                        }
                        for o in res.outcomes
                    ],
                },
                indent=1,
            )
        )
        return
    for o in res.outcomes:
        what = describe(action, o.result) if o.status == "done" else (o.error or "")
        print(f"{o.job.path}: {o.status}" + (f": {what}" if what else ""))
