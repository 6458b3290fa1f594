"""How long the command line takes to answer: `mexlab --help`, `--version` and light commands.

    nice -n 10 .venv/bin/python bench/cli_startup.py [--runs 7] [--json]

Each command is started as a new process (``python -m app.cli ...``, as the ``mexlab`` script does) and
timed from start to exit; the median of ``--runs`` runs is printed, with the load average.

* ``warm``: Python's byte-code caches and the OS's file cache are full (the usual case).
* ``no pyc``: every module is compiled again (``PYTHONPYCACHEPREFIX`` set to an empty folder): the
  worst case of a fresh clone's first run; the OS's file cache stays as it is (a cold disk, after a
  reboot, adds its reads on top: the 9.4 s once seen for `protocols list`).
* ``parser (all)``: building the parser with every command module imported (what `mexlab --help`
  does; before, every command did it), against ``parser (one)``: only the module of the command run.

Which modules a command imports is a test (tests/app/test_cli.py), not a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = (["--help"], ["--version"], ["protocols", "list"], ["shortcuts", "list"], ["check", "--help"])


def _time(argv: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    env = {**os.environ, "MEXLAB_CONFIG_DIR": tempfile.mkdtemp(prefix="mexlab-bench-cfg-")}
    py = [sys.executable]
    rows: dict[str, dict[str, float]] = {}
    for cmd in COMMANDS:
        name = "mexlab " + " ".join(cmd)
        _time([*py, "-m", "app.cli", *cmd], env)  # fills the caches
        warm = [_time([*py, "-m", "app.cli", *cmd], env) for _ in range(args.runs)]
        cold = []
        for _ in range(max(1, args.runs // 2)):
            with tempfile.TemporaryDirectory(prefix="mexlab-bench-pyc-") as d:
                cold.append(_time([*py, "-m", "app.cli", *cmd], {**env, "PYTHONPYCACHEPREFIX": d}))
        rows[name] = {"warm_s": statistics.median(warm), "no_pyc_s": statistics.median(cold)}
    for label, code in (
        ("parser (all)", "from app.cli import build_parser; build_parser()"),
        ("parser (one)", "from app.cli import build_parser; build_parser('protocols')"),
        ("python alone", "pass"),
    ):
        t = [_time([*py, "-c", code], env) for _ in range(args.runs)]
        rows[label] = {"warm_s": statistics.median(t)}
    load = os.getloadavg()
    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in load],
        "runs": args.runs,
        "median_s": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in rows.items()},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"machine: {out['machine']}, Python {out['python']}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median of {args.runs} runs"
    )
    print(f"{'':28} {'warm s':>8} {'no pyc s':>9}")
    for k, v in rows.items():
        cold = f"{v['no_pyc_s']:>9.3f}" if "no_pyc_s" in v else f"{'':>9}"
        print(f"{k:28} {v['warm_s']:>8.3f} {cold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
