"""Per-stream counts of a written XDF, by the computation ``mexlab check`` uses
(:func:`acquisition.xdf_read.read_xdf_robust`): the recording summary and session.json report what the
file holds, not what a live monitor happened to see (an inlet that reconnects after its outlet
vanished misses samples LabRecorder kept, and can count one pause as two gaps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acquisition.xdf_read import GAP_FACTOR, info_value, read_xdf_robust


def stream_counts(xdf: Path) -> dict[tuple[str, str], dict]:
    """``{(name, source_id): {"samples", "gaps", "missing", "effective_srate"}}`` for every stream of
    ``xdf``; ``missing`` = samples the gaps would have held at the nominal rate. Raises
    SessionFormatError when the file cannot be read."""
    contents = read_xdf_robust(Path(xdf))
    out = {}
    for stream, summary in zip(contents.streams, contents.summaries):
        sid = str(info_value(stream["info"], "source_id", "") or "")
        missing = 0
        srate = summary["nominal_srate"]
        ts = np.asarray(stream["time_stamps"], dtype=float)
        if srate > 0 and ts.size > 1:
            d = np.diff(ts)
            big = d > GAP_FACTOR / srate
            missing = int(np.round(d[big] * srate).sum() - big.sum())
        out[(summary["name"], sid)] = {"samples": summary["sample_count"], "gaps": summary["gaps"],
                                       "missing": max(0, missing), "effective_srate": summary["effective_srate"]}
    return out
