"""``mexlab physio PATH...``: heart rate, HRV, SCRs and EMG bursts of recordings.

One path is analysed here and printed (nothing written, as before); several, or a catalog query,
run as a batch in worker processes and write ``<session>/analysis/physio.json`` each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.commands._batch import add_batch_args, print_outcomes, run_jobs
from app.commands._study_args import (
    add_query_args,
    add_stream_args,
    is_batch,
    stream_names,
    study_paths,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "physio",
        help="analyse the physiology (ECG/PPG, EDA, EMG) of a recording",
        description="Heart beats, heart rate and HRV, skin-conductance responses, EMG bursts, "
        "and the responses to protocol events and micro-expressions.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="session folders or XDF files (several, or a catalog query: in parallel worker "
        "processes, each result written to <session>/analysis/physio.json)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_stream_args(p)
    add_query_args(p)
    add_batch_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.batch_jobs import physio_json

    if is_batch(args):
        return _run_batch(args)
    out, notes = physio_json(args.inputs[0], stream_names(args))
    for note in notes:
        print(f"mexlab physio: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(format_physio(out))
    return 0


def _run_batch(args) -> int:
    from analysis.batch import Job

    jobs = [Job.of("physio", p, names=stream_names(args)) for p in study_paths(args)]
    res, rc = run_jobs("physio", jobs, args)
    print_outcomes(res, args.json, "physio")
    return rc


def format_physio(out: dict) -> str:
    lines = [
        f"{out['path']}: {out['duration_s']:.1f} s, participant {out['participant'] or '-'}, "
        f"protocol {out['protocol'] or '-'}, {out['markers']} marker(s), "
        f"{out['me_events']} ME event(s)" + (f" from {out['me_source']}" if out["me_source"] else "")
    ]
    for kind in ("ecg", "ppg"):
        c = out.get(kind)
        if c:
            hrv = c["hrv"]
            lines.append(
                f"  {kind.upper()} {c['stream']!r}: {c['n_beats']} beats, mean HR {c['mean_hr_bpm']} bpm "
                f"({c['hr_min_bpm']}-{c['hr_max_bpm']}), RMSSD {hrv.get('HRV_RMSSD')} ms, "
                f"SDNN {hrv.get('HRV_SDNN')} ms"
            )
    e = out.get("eda")
    if e:
        lines.append(
            f"  EDA {e['stream']!r}: {e['n_scr']} SCR(s) ({e['scr_per_min']} per min), "
            f"mean tonic level {e['mean_tonic']} {e['unit']}"
        )
    for ch in out.get("emg", []):
        lines.append(
            f"  EMG {ch['stream']!r} {ch['channel']}: {ch['n_onsets']} burst(s), baseline "
            f"{ch['baseline_level']:.2f} {ch['unit']} ({ch['baseline_from']})"
        )
    for kind, why in out.get("missing", {}).items():
        lines.append(f"  {kind.upper()}: none ({why})")
    ev = out.get("events", [])
    if ev:
        lines.append(f"  {len(ev)} event(s): t (s)  source  label  condition  ΔHR (bpm)  SCR  EMG max (× baseline)")
        for r in ev:
            emg = [v for v in r["emg"].values() if v is not None]
            lines.append(
                f"    {r['t']:8.2f}  {r['source']:6s}  {r['label']:14s}  {r['condition'] or '-':10s}  "
                f"{_f(r['hr_change_bpm'])}  {_f(r['scr_amplitude'], 3)}  {_f(max(emg) if emg else None)}"
            )
    return "\n".join(lines)


def _f(v, nd=2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"
