"""Per-stream counts of a written XDF, by the computation ``mexlab check`` uses
(:func:`acquisition.xdf_read.read_xdf_robust`): the recording summary and session.json report what the
file holds, not what a live monitor happened to see (an inlet that reconnects after its outlet
vanished misses samples LabRecorder kept, and can count one pause as two gaps)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.xdf_read import GAP_FACTOR, SPILL_WINDOW, info_value, read_xdf_robust

if TYPE_CHECKING:
    from acquisition.lsl_streams import StreamMonitor
    from acquisition.recorder import Recorder


def stream_counts(xdf: Path, folder: Path | None = None) -> dict[tuple[str, str], dict]:
    """``{(name, source_id): {"samples", "gaps", "missing", "effective_srate"}}`` for every stream of
    ``xdf``; ``missing`` = samples the gaps would have held at the nominal rate. Raises
    SessionFormatError when the file cannot be read. ``folder``: the session folder of ``xdf``: the
    file is read into the session's stream cache (:mod:`acquisition.session_read.stream_cache`), in
    memory that does not grow with its length, and kept there for the analyses that open it next."""
    if folder is not None:
        from acquisition.session_read.stream_cache import read_kept

        contents = read_kept(Path(xdf), Path(folder), refresh=True)
    else:
        contents = read_xdf_robust(Path(xdf))
    out = {}
    for stream, summary in zip(contents.streams, contents.summaries):
        sid = str(info_value(stream["info"], "source_id", "") or "")
        srate = summary["nominal_srate"]
        missing = _missing(stream, srate) if srate > 0 else 0
        out[(summary["name"], sid)] = {
            "samples": summary["sample_count"],
            "gaps": summary["gaps"],
            "missing": max(0, missing),
            "effective_srate": summary["effective_srate"],
        }
    return out


def _missing(stream: dict, srate: float) -> int:
    """Samples the gaps of a stream (kept or spilled) would have held at ``srate``."""
    spilled = stream.get("spilled")
    if spilled is None:
        pieces = [np.asarray(stream["time_stamps"], dtype=float)]
    else:  # window by window, each window starting at the previous one's last sample
        pieces = (
            spilled.read_stamps(i, i + SPILL_WINDOW + 1) for i in range(0, max(spilled.count - 1, 1), SPILL_WINDOW)
        )
    missing = 0
    for ts in pieces:
        if ts.size > 1:
            d = np.diff(ts)
            big = d > GAP_FACTOR / srate
            missing += int(np.round(d[big] * srate).sum() - big.sum())
    return missing


def monitor_counts(mon: StreamMonitor, file_counts: dict | None) -> dict:
    """A recorded input's samples, gaps and missing samples: from the file once it is counted
    (``file_counts``, set at stop), from its live monitor until then."""
    s = mon.stream
    fc = (file_counts or {}).get((s.name, s.source_id or ""))
    if fc is not None:
        return {
            "samples": fc["samples"],
            "gaps": fc["gaps"],
            "missing": fc["missing"],
            "measured_hz": fc.get("effective_srate"),
        }
    return {"samples": mon.samples, "gaps": mon.gaps, "missing": mon.missing_samples, "measured_hz": None}


def _hz(count: int, seconds: float, file_counts: dict | None = None, key: tuple | None = None) -> float | None:
    """The rate the file holds for ``key`` (its timestamps' effective rate), else count / seconds."""
    fc = (file_counts or {}).get(key) if key else None
    if fc is not None and fc.get("effective_srate"):
        return round(float(fc["effective_srate"]), 3)
    return round(count / seconds, 3) if seconds > 0 else None


def stream_entries(rec: Recorder) -> list[dict]:
    """The ``streams`` of a recording's sidecar (``rec``: an acquisition.recorder.Recorder): every input,
    mexlab's markers and the frame indexes, each with its samples, gaps and measured rate in Hz
    (an input's from the file once counted, else samples over the recording's duration)."""
    out = []
    dur = rec.elapsed
    for mon in rec.monitors:
        s = mon.stream
        c = monitor_counts(mon, rec._file_counts)
        hz = c["measured_hz"]
        out.append(
            {
                "name": s.name,
                "type": s.type,
                "source_id": s.source_id,
                "channel_count": s.channel_count,
                "nominal_srate": s.nominal_srate,
                "role": "input",
                "samples": c["samples"],
                "gaps": c["gaps"],
                "measured_hz": round(float(hz), 3) if hz else _hz(c["samples"], dur),
                "counted_from": "file" if rec._file_counts is not None else "live monitor",
            }
        )
    if rec.markers is not None:
        out.append(
            {
                "name": rec.markers.name,
                "type": "Markers",
                "source_id": rec.markers.source_id,
                "channel_count": 1,
                "nominal_srate": 0.0,
                "role": "markers",
                "samples": rec.markers.pushed,
                "gaps": 0,
            }
        )
    for key, o in rec.index_outlets.items():
        out.append(
            {
                "name": o.name,
                "type": "VideoFrameIndex",
                "source_id": o.source_id,
                "channel_count": 3,
                "nominal_srate": float(rec.camera.mode(key).fps),
                "role": "frame_index",
                "samples": o.pushed,
                "gaps": 0,
                "measured_hz": _hz(o.pushed, dur, rec._file_counts, (o.name, o.source_id or "")),
            }
        )
    return out
