"""Peak memory of the analyses on a long session against a short one (issue 14: flat in length).

    .venv/bin/python bench/session_memory.py SHORT_SESSION LONG_SESSION [--what physio,report,spot,annotate] [--json]

Each analysis runs in a fresh process (``analysis.batch_jobs`` / ``analysis.spotting.pipeline``,
as the commands run them); its peak resident memory is ``wait4``'s ``ru_maxrss``. The ratio
long / short is the figure to read (goal <= 1.3, and <= 2 GB). From the two lengths it also
extrapolates, as a straight line through both peaks (memory = base + growth per minute x length),
the peak of a 10-min and a 60-min session and their ratio. ``annotate`` opens the session in the
Annotate workspace (Qt offscreen, first frame and tracks drawn) twice and prints the seconds each
took: the first in a fresh process (the coding store's database connection and the readers' imports
included), the second as in a running app. Also prints the bytes per hour of each
file of the long session.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from spot_session_speed import run_measured

from acquisition.session_read.names import SIDECAR  # noqa: E402

CODE = {
    "physio": "import sys; sys.path.insert(0, '.'); from analysis.batch_jobs import physio_json; "
    "o, n = physio_json({path!r}, {{}}); print(len(o['events']))",
    "report": "import sys; sys.path.insert(0, '.'); from analysis.study import analyse_study; "
    "from analysis.report.html import write_report; s = analyse_study([{path!r}]); "
    "write_report(s, {out!r}); print(len(s.sessions))",
    "annotate": "import os, sys, time, tempfile; sys.path.insert(0, '.'); "
    "os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen'); from PySide6.QtWidgets import QApplication; "
    "from app.gui.workspaces.annotate import AnnotateWorkspace; app = QApplication([]); "
    "d = tempfile.mkdtemp(); ws = AnnotateWorkspace(f'sqlite:///{{d}}/b.sqlite', coder='bench', journal_dir=d); "
    "ws.resize(1400, 900); ws.show(); app.processEvents(); "
    "t = [(lambda t0: (ws.open_session({path!r}), app.processEvents(), time.perf_counter() - t0)[-1])"
    "(time.perf_counter()) for _ in range(2)]; print(' '.join(f'{{x:.2f}}' for x in t))",
    "spot": "import sys; sys.path.insert(0, '.'); from analysis.spotting.pipeline import spot; "
    "r = spot({path!r}, use_cache=False); print(r.n_frames)",
}


def duration_s(folder: Path) -> float:
    meta = json.loads((folder / SIDECAR).read_text())
    return float(meta.get("duration_s") or 0)


def extrapolate(t_short: float, m_short: float, t_long: float, m_long: float) -> dict:
    """Growth per minute and the peaks of a 10-min and a 60-min session on the line through both."""
    if t_long <= t_short:
        return {}
    g = (m_long - m_short) / ((t_long - t_short) / 60)
    at = {m: m_short + g * (m - t_short / 60) for m in (10, 60)}
    return {"mib_per_min": g, "at_10_min": at[10], "at_60_min": at[60], "ratio_60_10": at[60] / at[10]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("short", type=Path)
    ap.add_argument("long", type=Path)
    ap.add_argument("--what", default="physio,report")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = {"short_s": duration_s(a.short), "long_s": duration_s(a.long), "runs": {}}
    d = out["long_s"]
    out["bytes_per_hour"] = (
        {
            f.name: f.stat().st_size / d * 3600
            for f in sorted(a.long.iterdir())
            if f.is_file() and f.suffix in (".mkv", ".xdf")
        }
        if d
        else {}
    )
    with tempfile.TemporaryDirectory() as td:
        for what in a.what.split(","):
            for name, folder in (("short", a.short), ("long", a.long)):
                r = run_measured(CODE[what].format(path=str(folder), out=str(Path(td) / f"{name}.html")))
                out["runs"].setdefault(what, {})[name] = r
                print(what, name, json.dumps(r), file=sys.stderr, flush=True)
            rr = out["runs"][what]
            rr["ratio"] = rr["long"]["peak_rss_mib"] / rr["short"]["peak_rss_mib"]
            rr.update(
                extrapolate(out["short_s"], rr["short"]["peak_rss_mib"], out["long_s"], rr["long"]["peak_rss_mib"])
            )
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for f, b in out["bytes_per_hour"].items():
            print(f"{f}: {b / 1e9:.2f} GB per hour")
        for what, rr in out["runs"].items():
            print(
                f"{what}: peak {rr['short']['peak_rss_mib']:.0f} MiB ({out['short_s']:.0f} s) vs "
                f"{rr['long']['peak_rss_mib']:.0f} MiB ({out['long_s']:.0f} s): ratio {rr['ratio']:.2f}; "
                f"{rr['short']['seconds']:.0f} s vs {rr['long']['seconds']:.0f} s; "
                f"{rr.get('mib_per_min', 0):.2f} MiB/min: 60 min {rr.get('at_60_min', 0):.0f} MiB, "
                f"60/10 min {rr.get('ratio_60_10', 0):.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
