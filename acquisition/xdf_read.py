"""Reading an XDF file robustly (:func:`read_xdf_robust`), for ``mexlab check`` and the analysis.

:func:`read_xdf_robust` returns an :class:`XdfContents`: pyxdf's streams, a summary of each (the
``streams`` entries of an :func:`acquisition.check.check_path` report), the file's status and the
damage found in it. A file that cannot be read at all raises
:class:`~acquisition.errors.SessionFormatError` with one message that names the file and what is
wrong. Also here: :func:`info_value` and :func:`desc_value` (fields of a pyxdf stream header) and
:func:`to_int`.

Decisions (see also the comments where they are applied):

* **Timestamps.** The XDF is read with pyxdf, ``synchronize_clocks=True`` (with pyxdf's clock-reset
  handling) and ``dejitter_timestamps=False``: each sample keeps the timestamp its sender gave it,
  only mapped onto the recorder's clock. Dejittering would replace the timestamps with a regular
  grid and hide the very gaps we count. Clock synchronisation stays on because a clock reset
  (the sender's computer restarted during the recording) makes the raw timestamps jump back by
  hours; pyxdf splits the stream at the reset and maps each piece onto the recorder's clock, so
  the reset shows up as what it is on the recorder's time line: at most one long interval without
  data (in ``clock_resets.xdf`` the sender stopped sending for ~274 s around its reset; that pause
  counts as ONE gap, not as hundreds, and not as a negative interval that would hide it). For
  streams from the recording computer itself the mapping is a shift of a few microseconds and a
  drift of a few ppm, so it changes no interval that matters.
* **Gaps.** For a regular stream (nominal rate > 0) a gap is an interval between consecutive
  samples longer than ``GAP_FACTOR`` (2) nominal periods. Irregular streams have no gaps.
* **Effective rate.** Samples per second while the stream was flowing: for a regular stream, the
  number of intervals that are not gaps divided by their total duration (so one pause does not
  halve the rate); for an irregular stream, (n - 1) / (last - first). None below two samples.
* **Status of a plain XDF file.** ``complete`` when every stream has a StreamFooter,
  ``interrupted`` when no stream has one or the file ends inside a chunk (the recorder was
  killed), ``unknown`` when the file holds no stream or only some streams have footers.
* **Damaged files.** The XDF's chunk structure is scanned first (cheap: lengths only); a file cut
  inside a chunk is read up to its last complete chunk.
* **Some streams only.** ``select`` (a list of ``{"name": …}`` / ``{"type": …}``, as pyxdf's
  ``select_streams``) hands pyxdf only the chunks of the matching streams: a frame index and the
  markers of a long recording are read without parsing its kHz EMG. Status and problems then concern
  the selected streams.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.errors import SessionFormatError

GAP_FACTOR = 2.0

_XDF_MAGIC = b"XDF:"
_STREAM_TAGS = (2, 3, 4, 6)  # StreamHeader, Samples, ClockOffset, StreamFooter carry a stream id


@dataclass
class _Scan:
    """What a length-only walk over the chunks of an XDF file found."""

    size: int
    ranges: list[tuple[int, int]]  # byte ranges made of complete, well-formed chunks
    n_chunks: int = 0
    truncated: bool = False  # the file ends inside a chunk
    damage: list[str] = field(default_factory=list)  # malformed stretches skipped

    @property
    def whole(self) -> bool:
        return self.ranges == [(0, self.size)]


@dataclass
class XdfContents:
    """What :func:`read_xdf_robust` read from one XDF file."""

    path: Path
    streams: list  # pyxdf stream dicts
    summaries: list[dict]
    status: str
    problems: list[str] = field(default_factory=list)  # damage found in the file itself


# The 16 bytes that follow the tag of every Boundary chunk (XDF specification): after damage,
# reading resumes behind the next one, as pyxdf itself does.
_BOUNDARY_SIGNATURE = bytes.fromhex("43a546dccbf5410fb30ed5467383cbe4")


def _find_boundary(fh, pos: int) -> int | None:
    """Offset just after the next boundary signature at or after ``pos``, or None."""
    block = 1 << 20
    overlap = len(_BOUNDARY_SIGNATURE) - 1
    while True:
        fh.seek(pos)
        data = fh.read(block)
        hit = data.find(_BOUNDARY_SIGNATURE)
        if hit >= 0:
            return pos + hit + len(_BOUNDARY_SIGNATURE)
        if len(data) < block:
            return None
        pos += len(data) - overlap


def _scan_xdf(path: Path) -> _Scan:
    """Walk the chunk headers of an XDF file (no payload is read): find its complete chunks.

    A file cut inside a chunk (the recorder was killed, or is still writing) ends at its last
    complete chunk. A malformed chunk in the middle is skipped up to the next boundary chunk.
    Raises SessionFormatError when the file is not XDF at all or its file header is incomplete.
    """
    try:
        size = path.stat().st_size
        fh = open(path, "rb")
    except OSError as exc:
        raise SessionFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with fh:
        magic = fh.read(len(_XDF_MAGIC))
        if magic != _XDF_MAGIC:
            if size == 0:
                raise SessionFormatError(f"{path}: empty file, not an XDF recording")
            if _XDF_MAGIC.startswith(magic):
                raise SessionFormatError(f"{path}: truncated XDF file ({size} bytes)")
            raise SessionFormatError(f"{path}: not an XDF file (it does not begin with the XDF signature 'XDF:')")
        scan = _Scan(size=size, ranges=[])
        range_start = 0
        pos = len(_XDF_MAGIC)
        while pos < size:
            fh.seek(pos)
            nbytes = fh.read(1)[0]
            raw = fh.read(nbytes) if nbytes in (1, 4, 8) else b""
            tag_raw = fh.read(2)
            if nbytes in (1, 4, 8) and (len(raw) < nbytes or len(tag_raw) < 2):
                scan.truncated = True
                break
            length = int.from_bytes(raw, "little") if raw else 0
            tag = int.from_bytes(tag_raw, "little") if len(tag_raw) == 2 else 0
            end = pos + 1 + nbytes + length
            malformed = (
                nbytes not in (1, 4, 8) or length < 2 or not 1 <= tag <= 6 or (tag in _STREAM_TAGS and length < 6)
            )
            if not malformed and scan.n_chunks == 0 and tag != 1:
                raise SessionFormatError(f"{path}: not a valid XDF file (it does not begin with a file header chunk)")
            if malformed and scan.n_chunks > 0:
                if pos > range_start:
                    scan.ranges.append((range_start, pos))
                resume = _find_boundary(fh, pos)
                scan.damage.append(
                    f"malformed chunk at byte {pos}, "
                    + (f"skipped up to byte {resume}" if resume else "nothing after it is readable")
                )
                if resume is None:
                    range_start = pos = size
                    break
                range_start = pos = resume
                continue
            if malformed or end > size:
                if malformed:
                    raise SessionFormatError(f"{path}: not a valid XDF file (malformed file header chunk)")
                scan.truncated = True
                break
            pos = end
            scan.n_chunks += 1
        if pos > range_start:
            scan.ranges.append((range_start, pos))
    if scan.n_chunks == 0:
        raise SessionFormatError(f"{path}: truncated XDF file: the file header is incomplete ({size} bytes)")
    return scan


@contextlib.contextmanager
def _quiet_pyxdf():
    """Silence pyxdf's logger (it reports recoverable oddities at WARNING) and numpy's warnings."""
    loggers = [logging.getLogger("pyxdf"), logging.getLogger("pyxdf.pyxdf")]
    saved = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, was in zip(loggers, saved):
            lg.disabled = was


def _matches(xml: bytes, select: list[dict]) -> bool:
    """Whether a StreamHeader's XML names a stream that one of ``select``'s entries describes."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return False
    got = {k: (root.findtext(k) or "") for k in ("name", "type", "source_id")}
    return any(all(got.get(k) == str(v) for k, v in entry.items()) for entry in select)


def _selected_chunks(path: Path, scan: _Scan, select: list[dict]) -> bytes:
    """The file's complete chunks, keeping of the stream chunks only those of selected streams."""
    out = [_XDF_MAGIC]
    keep: set[int] = set()
    with open(path, "rb") as fh:
        for start, end in scan.ranges:
            pos = max(start, len(_XDF_MAGIC))
            while pos < end:
                fh.seek(pos)
                nbytes = fh.read(1)[0]
                length = int.from_bytes(fh.read(nbytes), "little")
                stop = pos + 1 + nbytes + length
                tag = int.from_bytes(fh.read(2), "little")
                if tag in _STREAM_TAGS:
                    sid = int.from_bytes(fh.read(4), "little")
                    if tag == 2 and _matches(fh.read(stop - fh.tell()), select):
                        keep.add(sid)
                    if sid not in keep:
                        pos = stop
                        continue
                fh.seek(pos)
                out.append(fh.read(stop - pos))
                pos = stop
    return b"".join(out)


def _load_xdf(path: Path, scan: _Scan, select: list[dict] | None = None) -> list:
    import pyxdf

    def source():
        # A file that ends inside a chunk (recorder killed, or still writing) or has a damaged
        # stretch is handed to pyxdf as its complete chunks only (in memory): pyxdf fails on a
        # partial chunk at the end, and on some kinds of damage.
        if select is not None:
            return io.BytesIO(_selected_chunks(path, scan, select))
        if scan.whole and path.stat().st_size == scan.size:
            return str(path)
        parts = []
        with open(path, "rb") as fh:
            for start, end in scan.ranges:
                fh.seek(start)
                parts.append(fh.read(end - start))
        return io.BytesIO(b"".join(parts))

    kwargs = dict(dejitter_timestamps=False, handle_clock_resets=True)
    with _quiet_pyxdf():
        try:
            streams, _header = pyxdf.load_xdf(source(), synchronize_clocks=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 — pyxdf raises anything from struct to XML errors
            try:
                # Clock synchronisation can fail on odd clock-offset data; the samples
                # themselves may still be readable without it.
                streams, _header = pyxdf.load_xdf(source(), synchronize_clocks=False, **kwargs)
            except Exception:  # noqa: BLE001
                if isinstance(exc, KeyError):
                    why = f"a chunk names stream id {exc.args[0]} that has no stream header"
                else:
                    why = f"{type(exc).__name__}: {exc}"
                raise SessionFormatError(f"{path}: damaged XDF file, cannot be read ({why})") from None
    return streams


def info_value(info: dict, key: str, default: Any = None) -> Any:
    value = info.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return default if value is None else value


def desc_value(info: dict, *keys: str) -> str | None:
    """``info/desc/<k1>/<k2>/…`` of a pyxdf stream header, or None."""
    node = info_value(info, "desc")
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = info_value(node, key)
    return node if isinstance(node, str) else None


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _summarize_stream(stream: dict) -> dict:
    info = stream["info"]
    srate = _to_float(info_value(info, "nominal_srate"))
    ts = np.asarray(stream["time_stamps"], dtype=float)
    n = int(ts.size)
    summary = {
        "name": str(info_value(info, "name", "")),
        "type": str(info_value(info, "type", "")),
        "channel_count": to_int(info_value(info, "channel_count")),
        "nominal_srate": srate,
        "effective_srate": None,
        "sample_count": n,
        "first_timestamp": float(ts[0]) if n else None,
        "last_timestamp": float(ts[-1]) if n else None,
        "gaps": 0,
    }
    if n < 2:
        return summary
    intervals = np.diff(ts)
    if srate > 0:
        is_gap = intervals > GAP_FACTOR / srate
        summary["gaps"] = int(np.count_nonzero(is_gap))
        flowing = intervals[~is_gap]
        total = float(flowing.sum())
        if flowing.size and total > 0:
            summary["effective_srate"] = flowing.size / total
    else:
        span = float(ts[-1] - ts[0])
        if span > 0:
            summary["effective_srate"] = (n - 1) / span
    return summary


def read_xdf_robust(path: Path, select: list[dict] | None = None) -> XdfContents:
    """Read and summarise one XDF file (its ``select``-ed streams only, when given); raises
    SessionFormatError when it cannot be read at all."""
    scan = _scan_xdf(path)
    streams = _load_xdf(path, scan, select)
    summaries = [_summarize_stream(s) for s in streams]
    problems: list[str] = []
    for damage in scan.damage:
        problems.append(f"{path.name} is damaged: {damage}")

    footers = [bool(s.get("footer")) for s in streams]
    if streams and all(footers):
        status = "complete"
    elif scan.truncated or (streams and not any(footers)):
        status = "interrupted"
    else:
        status = "unknown"
        if not streams:
            problems.append(
                f"{path.name} holds no streams" if select is None else f"{path.name} holds none of the streams {select}"
            )
        else:
            lacking = [s["name"] for s, has in zip(summaries, footers) if not has]
            problems.append(
                f"{path.name}: the recorder did not finish the file: no stream footer for "
                + ", ".join(repr(n) for n in lacking)
            )

    # The footer counts the samples the recorder wrote; fewer in the file means chunks were lost
    # (pyxdf skips a corrupted chunk and goes on). More is normal: LabRecorder can write samples
    # that arrive while it writes the footers.
    for stream, summary in zip(streams, summaries):
        footer_info = (stream.get("footer") or {}).get("info") or {}
        expected = info_value(footer_info, "sample_count")
        if expected is not None and to_int(expected) > summary["sample_count"]:
            lost = to_int(expected) - summary["sample_count"]
            problems.append(
                f"stream {summary['name']!r}: {lost} of the {to_int(expected)} samples its footer "
                f"counts are missing from {path.name} (damaged chunks)"
            )
    return XdfContents(path=path, streams=streams, summaries=summaries, status=status, problems=problems)
