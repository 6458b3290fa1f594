"""The streams of a session's XDF, kept read beside it: an hour-long recording opened in seconds and
in memory that does not grow with its length.

Parsing an XDF takes time in proportion to its length (about 290 MB and minutes for an hour of the
rig's EMG at 2 kHz), and pyxdf holds every sample in memory. The first read of a session's XDF
through :func:`read_kept` therefore goes through :func:`acquisition.xdf_read.read_xdf_robust` with
its fast numeric streams (EMG, ECG: 100 Hz or more) spilled to files, and keeps what it read in
``<session>/.mexlab-cache/streams/``:

* ``stream<N>.values`` / ``stream<N>.stamps``: the spilled samples (values as recorded, LSL
  timestamps float64, already mapped onto the recorder's clock), read piece by piece or
  memory-mapped (:class:`acquisition.xdf_read.Spilled`);
* ``small.npz``: the samples of the other numeric streams (frame indexes, EDA, …);
* ``contents.json``: the streams' headers, footers and clock offsets, string samples (markers),
  the summaries, status and problems that :func:`read_xdf_robust` gave, and the key: the XDF's
  content fingerprint (:mod:`acquisition.session_read.fingerprint`) and :data:`VERSION`.

Later reads with the same key rebuild the same :class:`~acquisition.xdf_read.XdfContents` from
these files without touching the XDF. The folder is written under a temporary name and renamed
into place when complete, so a reader sees the old copy or the new one, never half of one. A session
folder that cannot be written (read-only media, full disk) is read with the samples spilled to a
temporary folder instead, as before: the copy is a help, never a requirement. The copy costs about
what the fast streams weigh in the XDF (~0.3 GB per hour of the rig), against ~20 GB of video.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acquisition.session_read.fingerprint import fingerprint
from acquisition.session_read.names import CACHE_DIR

if TYPE_CHECKING:
    from acquisition.xdf_read import XdfContents

VERSION = 1
STREAMS_DIR = "streams"
CONTENTS = "contents.json"
SMALL = "small.npz"

__all__ = ["STREAMS_DIR", "VERSION", "cache_dir", "is_kept", "read_kept"]


def cache_dir(folder: Path) -> Path:
    """Where the streams of the session in ``folder`` are kept."""
    return Path(folder) / CACHE_DIR / STREAMS_DIR


def is_kept(xdf: Path, folder: Path) -> bool:
    """Whether the streams of ``xdf`` are kept read in ``folder``'s cache, current with the file
    (then :func:`read_kept` returns in a moment; otherwise it parses the whole XDF)."""
    try:
        meta = json.loads((cache_dir(folder) / CONTENTS).read_text(encoding="utf-8"))
        return meta.get("key") == _key(Path(xdf))
    except (OSError, ValueError, AttributeError):
        return False


def _key(xdf: Path) -> str:
    return f"{VERSION}:{fingerprint(xdf)}"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON: {type(o).__name__}")


def _as_defaultdicts(o: Any) -> Any:
    """pyxdf's headers are ``defaultdict(list)`` all the way down: give them back as they were."""
    if isinstance(o, dict):
        d = defaultdict(list)
        for k, v in o.items():
            d[k] = _as_defaultdicts(v)
        return d
    if isinstance(o, list):
        return [_as_defaultdicts(v) for v in o]
    return o


def _load(where: Path, key: str):
    """The kept contents in ``where`` when they are there and for ``key``; else None."""
    from acquisition.xdf_read import Spilled, XdfContents

    try:
        meta = json.loads((where / CONTENTS).read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        small = np.load(where / SMALL, allow_pickle=False) if (where / SMALL).is_file() else {}
        streams = []
        for i, s in enumerate(meta["streams"]):
            d: dict[str, Any] = {
                "info": _as_defaultdicts(s["info"]),
                "footer": _as_defaultdicts(s["footer"]) if s.get("footer") is not None else None,
                "clock_times": list(s.get("clock_times") or []),
                "clock_values": list(s.get("clock_values") or []),
            }
            if d["footer"] is None:
                del d["footer"]
            if s["kind"] == "strings":
                d["time_series"] = s["time_series"]
                d["time_stamps"] = np.asarray(s["time_stamps"], dtype=np.float64)
            else:
                d["time_series"] = np.asarray(small[f"s{i}_values"])
                d["time_stamps"] = np.asarray(small[f"s{i}_stamps"])
            if s.get("spilled") is not None:
                sp = s["spilled"]
                d["spilled"] = Spilled(
                    where / sp["values"], where / sp["stamps"], sp["dtype"], int(sp["channels"]), int(sp["count"])
                )
                for f in (d["spilled"].values, d["spilled"].stamps):
                    if not f.is_file():
                        return None
            streams.append(d)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not there, or not whole: read the XDF again
    return XdfContents(
        path=Path(meta["xdf"]),
        streams=streams,
        summaries=meta["summaries"],
        status=meta["status"],
        problems=list(meta["problems"]),
    )


def _store(staging: Path, contents, key: str) -> None:
    """Write ``contents`` (read with its fast streams spilled into ``staging``) into ``staging``."""
    arrays: dict[str, np.ndarray] = {}
    streams = []
    for i, s in enumerate(contents.streams):
        entry: dict[str, Any] = {
            "info": s.get("info"),
            "footer": s.get("footer"),
            "clock_times": list(s.get("clock_times") or []),
            "clock_values": list(s.get("clock_values") or []),
        }
        ts = s.get("time_series")
        if isinstance(ts, np.ndarray):
            entry["kind"] = "numeric"
            arrays[f"s{i}_values"] = ts
            arrays[f"s{i}_stamps"] = np.asarray(s.get("time_stamps"), dtype=np.float64)
        else:
            entry["kind"] = "strings"
            entry["time_series"] = [list(row) for row in (ts or [])]
            entry["time_stamps"] = np.asarray(s.get("time_stamps"), dtype=np.float64)
        sp = s.get("spilled")
        if sp is not None:
            entry["spilled"] = {
                "values": sp.values.name,
                "stamps": sp.stamps.name,
                "dtype": sp.dtype,
                "channels": sp.channels,
                "count": sp.count,
            }
        streams.append(entry)
    np.savez(staging / SMALL, **arrays)
    meta = {
        "key": key,
        "xdf": str(contents.path),
        "streams": streams,
        "summaries": contents.summaries,
        "status": contents.status,
        "problems": contents.problems,
    }
    (staging / CONTENTS).write_text(json.dumps(meta, default=_json_default), encoding="utf-8")


def _point_to(contents, where: Path):
    """``contents`` with its spilled files named in ``where`` (after the folder was renamed)."""
    for s in contents.streams:
        sp = s.get("spilled")
        if sp is not None:
            sp.values, sp.stamps = where / sp.values.name, where / sp.stamps.name
    return contents


def read_kept(xdf: Path, folder: Path, *, refresh: bool = False) -> XdfContents:
    """The :class:`~acquisition.xdf_read.XdfContents` of the session XDF ``xdf`` (in session folder
    ``folder``) with its fast streams spilled (module doc): from the kept copy when it is current
    (and ``refresh`` is not asked), else read now and kept. Raises SessionFormatError as
    :func:`~acquisition.xdf_read.read_xdf_robust` does. When the folder cannot be written, the
    spilled files lie in a temporary folder that lives as long as the process."""
    from acquisition.xdf_read import read_xdf_robust

    xdf, where = Path(xdf), cache_dir(folder)
    key = _key(xdf)
    if not refresh:
        got = _load(where, key)
        if got is not None:
            return got
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{STREAMS_DIR}.", dir=where.parent))
    except OSError:
        spill = Path(tempfile.mkdtemp(prefix="mexlab-streams-"))
        atexit.register(shutil.rmtree, spill, True)
        return read_xdf_robust(xdf, spill_dir=spill)
    try:
        contents = read_xdf_robust(xdf, spill_dir=staging)
    except OSError:  # the folder filled up while the samples were spilled: read them into memory
        shutil.rmtree(staging, ignore_errors=True)
        return read_xdf_robust(xdf)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        _store(staging, contents, key)
        old = staging.with_name(staging.name + ".old")
        if where.exists():
            os.replace(where, old)
        os.replace(staging, where)
        shutil.rmtree(old, ignore_errors=True)
    except OSError:  # full disk, … : the samples stay where they were spilled, for this process
        atexit.register(shutil.rmtree, staging, True)
        return contents
    return _point_to(contents, where)
