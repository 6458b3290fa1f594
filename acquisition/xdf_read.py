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
* **Long recordings in bounded memory.** With ``spill_dir``, the samples of every numeric stream
  sampled at ``spill_min_hz`` or faster (EMG, ECG) are not kept in memory: pyxdf hands each chunk
  over as it reads it (``on_chunk``) and it is appended to two files in ``spill_dir`` (values as
  recorded, timestamps float64), then the timestamps are mapped onto the recorder's clock there, window
  by window, with pyxdf's own clock synchronisation (the same coefficients, so the same timestamps).
  Such a stream comes back with no samples in memory and a :class:`Spilled` under ``"spilled"``; its
  summary is computed from the files. One pass over the file, whatever its length.
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
class Spilled:
    """The samples of one stream kept in two files (``read_xdf_robust(spill_dir=…)``): ``values``
    (``count`` × ``channels`` of ``dtype``, rows in order) and ``stamps`` (``count`` float64, LSL s)."""

    values: Path
    stamps: Path
    dtype: str
    channels: int
    count: int = 0

    def read(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(timestamps, values)`` of the samples ``start`` to ``stop`` (values ``(n, channels)``)."""
        stop = self.count if stop is None else min(int(stop), self.count)
        start = max(0, min(int(start), stop))
        n = stop - start
        dt = np.dtype(self.dtype)
        ts = np.fromfile(self.stamps, dtype=np.float64, count=n, offset=start * 8)
        vals = np.fromfile(self.values, dtype=dt, count=n * self.channels, offset=start * self.channels * dt.itemsize)
        return ts, vals.reshape(n, self.channels)

    def column(self, c: int) -> SpilledColumn:
        """Channel ``c`` of the values, read from the file only where it is sliced."""
        return SpilledColumn(self, c)

    def stamps_lazy(self) -> SpilledStamps:
        """The timestamps, read from the file only where they are sliced or indexed."""
        return SpilledStamps(self)

    def mapped(self) -> tuple[np.ndarray, np.ndarray]:
        """``(timestamps, values)`` of every sample, memory-mapped read-only from the files: only
        the pages a caller touches are read (a track showing a few seconds of an hour)."""
        if self.count == 0:
            return np.zeros(0), np.zeros((0, self.channels), dtype=self.dtype)
        ts = np.memmap(self.stamps, dtype=np.float64, mode="r", shape=(self.count,))
        vals = np.memmap(self.values, dtype=np.dtype(self.dtype), mode="r", shape=(self.count, self.channels))
        return ts, vals

    def read_stamps(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The timestamps of the samples ``start`` to ``stop``."""
        stop = self.count if stop is None else min(int(stop), self.count)
        start = max(0, min(int(start), stop))
        return np.fromfile(self.stamps, dtype=np.float64, count=stop - start, offset=start * 8)

    def stamps_at(self, index: np.ndarray) -> np.ndarray:
        """The timestamps of the samples ``index`` (read one by one from the file)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        mm = np.memmap(self.stamps, dtype=np.float64, mode="r", shape=(self.count,)) if self.count else None
        try:
            return np.array([float(mm[i]) for i in idx], dtype=np.float64) if idx.size else np.zeros(0)
        finally:
            del mm


class SpilledColumn:
    """One channel of a :class:`Spilled` stream as a read-only sequence: ``len``, and a slice
    ``col[a:b]`` read from the file (float as recorded). Memory holds only what is sliced."""

    def __init__(self, spilled: Spilled, c: int) -> None:
        self.spilled, self.c = spilled, int(c)

    def __len__(self) -> int:
        return int(self.spilled.count)

    @property
    def size(self) -> int:
        return len(self)

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a spilled channel is read by contiguous slices only")
        a, b, _ = key.indices(len(self))
        return self.spilled.read(a, max(a, b))[1][:, self.c]


class SpilledStamps:
    """The timestamps of a :class:`Spilled` stream as a read-only sequence: ``len``/``size``, an
    index, a slice, or an array of indices, each read from the file."""

    def __init__(self, spilled: Spilled) -> None:
        self.spilled = spilled

    def __len__(self) -> int:
        return int(self.spilled.count)

    @property
    def size(self) -> int:
        return len(self)

    def __getitem__(self, key: Any) -> Any:
        n = len(self)
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise TypeError("spilled timestamps are read by contiguous slices")
            a, b, _ = key.indices(n)
            return self.spilled.read_stamps(a, max(a, b))
        if isinstance(key, (int, np.integer)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(key)
            return float(self.spilled.read_stamps(i, i + 1)[0])
        idx = np.asarray(key, dtype=np.int64).reshape(-1)
        out = np.empty(idx.size)
        with open(self.spilled.stamps, "rb") as fh:  # one small read each, no mapping
            for j, i in enumerate(idx):
                fh.seek(int(i) * 8)
                out[j] = np.frombuffer(fh.read(8), np.float64)[0]
        return out


#: samples per window when a spilled stream is worked on piece by piece
SPILL_WINDOW = 1 << 18


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


class SpillFailed(OSError):
    """Writing a spilled stream's samples failed (a full disk, …): the XDF itself may be fine."""


class _Spiller:
    """pyxdf's ``on_chunk``: the chunks of fast numeric streams appended to files, not kept."""

    def __init__(self, folder: Path, min_hz: float) -> None:
        self.folder, self.min_hz = Path(folder), float(min_hz)
        self.reset()

    def reset(self) -> None:
        for fh in getattr(self, "files", {}).values():
            fh[0].close()
            fh[1].close()
        self.files: dict[int, tuple] = {}
        self.spilled: dict[int, Spilled] = {}
        self.decided: dict[int, bool] = {}
        self.failed: SpillFailed | None = None

    def __call__(self, values, stamps, header, stream_id):
        if stream_id not in self.decided:
            info = header.get("info", {})
            fmt = str(info_value(info, "channel_format", "float32"))
            self.decided[stream_id] = (
                fmt != "string" and _to_float(info_value(info, "nominal_srate")) >= self.min_hz and values.ndim == 2
            )
            if self.decided[stream_id]:
                base = self.folder / f"stream{stream_id}"
                sp = Spilled(
                    base.with_suffix(".values"), base.with_suffix(".stamps"), values.dtype.str, values.shape[1]
                )
                self.spilled[stream_id] = sp
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    self.files[stream_id] = (open(sp.values, "wb"), open(sp.stamps, "wb"))
                except OSError as exc:
                    self.failed = SpillFailed(exc.errno, f"cannot write a stream's samples to {self.folder}: {exc}")
        if not self.decided[stream_id]:
            return values, stamps, header
        if stream_id not in self.files:  # its files could not be opened (self.failed)
            return np.empty((0, values.shape[1]), values.dtype), np.empty(0), header
        empty = (np.empty((0, values.shape[1]), values.dtype), np.empty(0), header)
        if self.failed is not None:
            return empty
        fv, fs = self.files[stream_id]
        try:  # pyxdf takes any error here for a damaged chunk and skips it: keep the error for after
            fv.write(np.ascontiguousarray(values).tobytes())
            fs.write(np.ascontiguousarray(stamps, dtype=np.float64).tobytes())
        except OSError as exc:
            self.failed = SpillFailed(exc.errno, f"cannot write a stream's samples to {self.folder}: {exc}")
            return empty
        self.spilled[stream_id].count += int(stamps.shape[0])
        # new empty arrays (an empty slice would keep the chunk's buffer alive in pyxdf's list)
        return np.empty((0, values.shape[1]), values.dtype), np.empty(0), header

    def close(self) -> None:
        for fv, fs in self.files.values():
            fv.close()
            fs.close()
        self.files = {}


def _sync_spilled(stream: dict, sp: Spilled, synchronize: bool) -> None:
    """Do to a spilled stream's timestamps what pyxdf's load does to a kept one's (the
    pylsl#67 truncation, then the clock synchronisation), window by window when the mapping is
    one line (every sample on its own), else on the whole timestamp array at once."""
    from types import SimpleNamespace

    from pyxdf import pyxdf as px

    if not synchronize or sp.count == 0:
        return
    times, values = list(stream.get("clock_times") or []), list(stream.get("clock_values") or [])
    footer = ((stream.get("footer") or {}).get("info") or {}).get("sample_count", [None])[0]
    if footer is not None and sp.count > int(footer) and len(times) >= 3:
        if px._detect_corrupted_clock_offset(times, values):
            times, values = times[:-1], values[:-1]
            sp.count = int(footer)
            stream["clock_times"], stream["clock_values"] = times, values
    if not times:
        return
    one = SimpleNamespace(clock_times=times, clock_values=values)
    single = len(times) <= 1 or len(px._detect_clock_resets(one, 5, 5, 10, 1)) == 1
    mm = np.memmap(sp.stamps, dtype=np.float64, mode="r+", shape=(sp.count,))
    try:
        step = SPILL_WINDOW if single else sp.count
        for i in range(0, sp.count, step):
            piece = SimpleNamespace(
                time_stamps=np.array(mm[i : i + step]), clock_times=times, clock_values=values, clock_segments=[]
            )
            px._clock_sync({0: piece})
            mm[i : i + step] = piece.time_stamps
        mm.flush()
    finally:
        del mm


def _load_xdf(path: Path, scan: _Scan, select: list[dict] | None = None, spill: _Spiller | None = None) -> list:
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

    kwargs = dict(dejitter_timestamps=False, handle_clock_resets=True, on_chunk=spill)
    synchronized = True
    with _quiet_pyxdf():
        try:
            streams, _header = pyxdf.load_xdf(source(), synchronize_clocks=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 — pyxdf raises anything from struct to XML errors
            try:
                # Clock synchronisation can fail on odd clock-offset data; the samples
                # themselves may still be readable without it.
                if spill is not None:
                    spill.reset()
                synchronized = False
                streams, _header = pyxdf.load_xdf(source(), synchronize_clocks=False, **kwargs)
            except Exception:  # noqa: BLE001
                if spill is not None:
                    spill.close()
                if isinstance(exc, KeyError):
                    why = f"a chunk names stream id {exc.args[0]} that has no stream header"
                else:
                    why = f"{type(exc).__name__}: {exc}"
                raise SessionFormatError(f"{path}: damaged XDF file, cannot be read ({why})") from None
        if spill is not None:
            spill.close()
            if spill.failed is not None:  # the spill folder, not the file: say so as it is
                raise spill.failed
            for stream in streams:
                sp = spill.spilled.get(stream["info"].get("stream_id"))
                if sp is not None:
                    _sync_spilled(stream, sp, synchronized)
                    stream["spilled"] = sp
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


def _summarize_spilled(stream: dict, sp: Spilled) -> dict:
    """:func:`_summarize_stream` of a spilled stream, from its timestamp file window by window."""
    info = stream["info"]
    srate = _to_float(info_value(info, "nominal_srate"))
    n = sp.count
    summary = _summarize_stream({"info": info, "time_stamps": np.zeros(0)})
    summary["sample_count"] = n
    if not n:
        return summary
    first = last = None
    gaps, flowing_n, flowing_s = 0, 0, 0.0
    for i in range(0, n, SPILL_WINDOW):
        ts = sp.read_stamps(max(0, i - 1), i + SPILL_WINDOW)  # one sample of overlap: every interval once
        first = float(ts[0]) if first is None else first
        last = float(ts[-1])
        if ts.size > 1 and srate > 0:
            intervals = np.diff(ts)
            is_gap = intervals > GAP_FACTOR / srate
            gaps += int(np.count_nonzero(is_gap))
            flowing_n += int(np.count_nonzero(~is_gap))
            flowing_s += float(intervals[~is_gap].sum())
    summary.update(first_timestamp=first, last_timestamp=last)
    if n < 2:
        return summary
    if srate > 0:
        summary["gaps"] = gaps
        if flowing_n and flowing_s > 0:
            summary["effective_srate"] = flowing_n / flowing_s
    elif last > first:
        summary["effective_srate"] = (n - 1) / (last - first)
    return summary


def _summarize_stream(stream: dict) -> dict:
    info = stream["info"]
    if stream.get("spilled") is not None:
        return _summarize_spilled(stream, stream["spilled"])
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


def read_xdf_robust(
    path: Path, select: list[dict] | None = None, *, spill_dir: Path | None = None, spill_min_hz: float = 100.0
) -> XdfContents:
    """Read and summarise one XDF file (its ``select``-ed streams only, when given); raises
    SessionFormatError when it cannot be read at all. ``spill_dir``: the samples of numeric streams
    at ``spill_min_hz`` or faster go to files there, not into memory (module doc)."""
    scan = _scan_xdf(path)
    spill = _Spiller(spill_dir, spill_min_hz) if spill_dir is not None else None
    streams = _load_xdf(path, scan, select, spill)
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
