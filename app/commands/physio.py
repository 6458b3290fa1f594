"""``mexlab physio PATH``: heart rate, HRV, SCRs and EMG bursts of one recording."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.commands._study_args import add_stream_args, stream_names


def add_parser(sub) -> None:
    p = sub.add_parser("physio", help="analyse the physiology (ECG/PPG, EDA, EMG) of a recording",
                       description="Heart beats, heart rate and HRV, skin-conductance responses, EMG bursts, "
                                   "and the responses to protocol events and micro-expressions.")
    p.add_argument("path", type=Path, metavar="PATH", help="a session folder or an XDF file")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_stream_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.physio import analyse
    from analysis.physio.events import event_responses

    pa = analyse(args.path, **stream_names(args))
    if not any((pa.to_json().get(k) for k in ("ecg", "ppg", "eda", "emg"))):
        from acquisition.errors import MexlabError

        have = ", ".join(f"{s.name} [{s.type}]" for s in pa.session.streams) or "none"
        extra = " (the recording was interrupted)" if any("interrupted" in n for n in pa.notes) else ""
        raise MexlabError(f"{args.path}: no ECG, PPG, EDA or EMG signal to analyse{extra}; streams in it: "
                          f"{have}")
    responses = event_responses(pa)
    for kind, why in pa.missing.items():
        print(f"mexlab physio: note: no {kind.upper()}: {why}", file=sys.stderr)
    for note in pa.notes:
        print(f"mexlab physio: note: {note}", file=sys.stderr)
    out = pa.to_json()
    t0 = pa.session.start
    out["events"] = [r.to_json(t0) for r in responses]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(format_physio(out))
    return 0


def format_physio(out: dict) -> str:
    lines = [f"{out['path']}: {out['duration_s']:.1f} s, participant {out['participant'] or '-'}, "
             f"protocol {out['protocol'] or '-'}, {out['markers']} marker(s), "
             f"{out['me_events']} ME event(s)" + (f" from {out['me_source']}" if out["me_source"] else "")]
    for kind in ("ecg", "ppg"):
        c = out.get(kind)
        if c:
            hrv = c["hrv"]
            lines.append(f"  {kind.upper()} {c['stream']!r}: {c['n_beats']} beats, mean HR {c['mean_hr_bpm']} bpm "
                         f"({c['hr_min_bpm']}-{c['hr_max_bpm']}), RMSSD {hrv.get('HRV_RMSSD')} ms, "
                         f"SDNN {hrv.get('HRV_SDNN')} ms")
    e = out.get("eda")
    if e:
        lines.append(f"  EDA {e['stream']!r}: {e['n_scr']} SCR(s) ({e['scr_per_min']} per min), "
                     f"mean tonic level {e['mean_tonic']} {e['unit']}")
    for ch in out.get("emg", []):
        lines.append(f"  EMG {ch['stream']!r} {ch['channel']}: {ch['n_onsets']} burst(s), baseline "
                     f"{ch['baseline_level']:.2f} {ch['unit']} ({ch['baseline_from']})")
    for kind, why in out.get("missing", {}).items():
        lines.append(f"  {kind.upper()}: none ({why})")
    ev = out.get("events", [])
    if ev:
        lines.append(f"  {len(ev)} event(s): t (s)  source  label  condition  ΔHR (bpm)  SCR  EMG max (× baseline)")
        for r in ev:
            emg = [v for v in r["emg"].values() if v is not None]
            lines.append(f"    {r['t']:8.2f}  {r['source']:6s}  {r['label']:14s}  {r['condition'] or '-':10s}  "
                         f"{_f(r['hr_change_bpm'])}  {_f(r['scr_amplitude'], 3)}  {_f(max(emg) if emg else None)}")
    return "\n".join(lines)


def _f(v, nd=2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"
