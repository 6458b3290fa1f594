"""A study on every core: N session folders spotted (and their physiology analysed) one after
another in this process, then by worker processes (:func:`analysis.batch.run_batch`), side by side.

    .venv/bin/python bench/batch_speed.py SESSION... [--copies 20] [--workers 2] [--rounds 1] [--json]

The given sessions (recorded with ``mexlab record --simulate``) are copied round-robin into N
folders of a temporary directory (each copy spots from scratch: no feature cache, ``--force``), so
the study has N sessions. Each round runs sequential (``workers=1``) and parallel (``--workers``)
back to back, in alternating order; the ratio is sequential / parallel wall time. The load average
(1 min) is printed before and after each run: on a shared machine the ratio is what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def copy_sessions(src: list[Path], n: int, dst: Path) -> list[Path]:
    out = []
    for i in range(n):
        s = src[i % len(src)]
        d = dst / f"{s.name}-{i:02d}"
        shutil.copytree(s, d, ignore=shutil.ignore_patterns(".mexlab-cache", "analysis"))
        out.append(d)
    return out


def timed(action: str, folders: list[Path], workers: int) -> dict:
    from analysis.batch import Job, run_batch

    params = {"interference": True, "use_cache": False} if action == "spot" else {"names": {}}
    jobs = [Job.of(action, f, **params) for f in folders]
    l0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    res = run_batch(jobs, workers=workers, force=True)
    dt = time.perf_counter() - t0
    bad = [f"{o.job.path}: {o.error}" for o in res.outcomes if o.status != "done"]
    frames = sum((o.result or {}).get("n_frames", 0) for o in res.outcomes if o.status == "done")
    return {
        "action": action,
        "workers": workers,
        "seconds": dt,
        "load_before": l0,
        "load_after": os.getloadavg()[0],
        "failed": bad,
        "fps": frames / dt if frames else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sessions", nargs="+", type=Path)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--actions", default="spot,physio")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as td:
        folders = copy_sessions(a.sessions, a.copies, Path(td))
        for action in a.actions.split(","):
            for r in range(a.rounds):
                order = (1, a.workers) if r % 2 == 0 else (a.workers, 1)
                for w in order:
                    runs.append(timed(action, folders, w))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    summary = {}
    for action in a.actions.split(","):
        seq = [x["seconds"] for x in runs if x["action"] == action and x["workers"] == 1]
        par = [x["seconds"] for x in runs if x["action"] == action and x["workers"] == a.workers]
        summary[action] = {
            "sequential_s": statistics.median(seq),
            "parallel_s": statistics.median(par),
            "speedup": statistics.median(seq) / statistics.median(par),
        }
    out = {
        "sessions": [str(s) for s in a.sessions],
        "copies": a.copies,
        "workers": a.workers,
        "cores": os.cpu_count(),
        "runs": runs,
        "summary": summary,
    }
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for action, s in summary.items():
            print(
                f"{action}: {a.copies} sessions, sequential {s['sequential_s']:.1f} s, "
                f"{a.workers} workers {s['parallel_s']:.1f} s, speed-up {s['speedup']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
