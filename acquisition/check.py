"""``mexlab check``: verify a recording (a session folder or any ``.xdf`` file).

:func:`check_path` returns a JSON-able report::

    {"path": str, "status": "complete" | "interrupted" | "unknown", "ok": bool, "problems": [str],
     "streams": [{"name", "type", "channel_count", "nominal_srate", "effective_srate",
                  "sample_count", "first_timestamp", "last_timestamp", "gaps"}],
     "videos": [{"name", "frames_in_file", "frames_in_index", "missing_frames"}]}

and :func:`format_check` turns it into readable text. ``ok`` is True exactly when ``problems`` is
empty. Paths that cannot be checked at all (missing, not a session folder, not an XDF file, a video
that cannot be opened) raise :class:`~acquisition.errors.SessionFormatError` with one message that
names the file and what is wrong.

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
* **Status of a session folder.** :func:`acquisition.session.effective_status` of ``session.json``;
  ``recording`` (the writer is still alive) is reported as ``unknown`` with the problem "recording
  still in progress", and the frame counts of the videos (still being written) are then not
  reported as problems.
* **Damaged files.** The XDF's chunk structure is scanned first (cheap: lengths only); a file cut
  inside a chunk is read up to its last complete chunk. A video is demuxed without decoding;
  a file cut by a crash counts the packets that were complete.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.errors import MexlabError, SessionFormatError
from acquisition.session import (
    DEPTH_NAME,
    RGB_NAME,
    XDF_NAME,
    effective_status,
    is_session_folder,
    read_sidecar,
)

GAP_FACTOR = 2.0
FRAME_INDEX_TYPE = "VideoFrameIndex"
INTERRUPTED_PROBLEM = "recording was interrupted; data up to the interruption is readable"
IN_PROGRESS_PROBLEM = "recording still in progress"

_XDF_MAGIC = b"XDF:"
_STREAM_TAGS = (2, 3, 4, 6)  # StreamHeader, Samples, ClockOffset, StreamFooter carry a stream id
_VIDEO_KINDS = (("rgb", RGB_NAME), ("depth", DEPTH_NAME))


# --------------------------------------------------------------------------------------------
# public API


def check_path(path: Path | str) -> dict:
    """Check a session folder or an ``.xdf`` file and return the report (see the module doc)."""
    path = Path(path)
    if not path.exists():
        raise SessionFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        if not is_session_folder(path):
            read_sidecar(path)  # raises the clear "not a mexlab session folder" error
        return _check_session(path)
    if not path.is_file():
        raise SessionFormatError(f"{path}: not a regular file or a session folder")
    return _check_xdf_file(path)


def format_check(report: dict) -> str:
    """A readable multi-line text version of a :func:`check_path` report."""
    verdict = "OK" if report.get("ok") else "NOT OK"
    lines = [f"{report.get('path')}", f"  status: {report.get('status')} — {verdict}"]
    streams = report.get("streams") or []
    lines.append(f"  streams ({len(streams)}):")
    for s in streams:
        head = f"    {s['name']} [{s['type']}, {s['channel_count']} ch]"
        if s["nominal_srate"] and s["nominal_srate"] > 0:
            rate = f"{_fmt_num(s['nominal_srate'])} Hz nominal"
            if s["effective_srate"] is not None:
                rate += f", {s['effective_srate']:.3f} Hz effective"
        else:
            rate = "irregular"
        n, gaps = s["sample_count"], s["gaps"]
        body = f"{rate}; {n} sample{'s' * (n != 1)}; {gaps} gap{'s' * (gaps != 1)}"
        if s["first_timestamp"] is not None:
            span = s["last_timestamp"] - s["first_timestamp"]
            body += (
                f"; {s['first_timestamp']:.3f} .. {s['last_timestamp']:.3f} s"
                f" ({span:.3f} s)"
            )
        lines.append(f"{head}: {body}")
    if not streams:
        lines.append("    (none)")
    videos = report.get("videos") or []
    if videos:
        lines.append(f"  videos ({len(videos)}):")
        for v in videos:
            lines.append(
                f"    {v['name']}: {_fmt_opt(v['frames_in_file'])} frames in the file, "
                f"{_fmt_opt(v['frames_in_index'])} in the frame index, "
                f"{_fmt_opt(v['missing_frames'])} unmatched"
            )
    problems = report.get("problems") or []
    if problems:
        lines.append(f"  problems ({len(problems)}):")
        lines.extend(f"    - {p}" for p in problems)
    else:
        lines.append("  problems: none")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# XDF


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
class _Xdf:
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
            raise SessionFormatError(
                f"{path}: not an XDF file (it does not begin with the XDF signature 'XDF:')"
            )
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
                nbytes not in (1, 4, 8)
                or length < 2
                or not 1 <= tag <= 6
                or (tag in _STREAM_TAGS and length < 6)
            )
            if not malformed and scan.n_chunks == 0 and tag != 1:
                raise SessionFormatError(
                    f"{path}: not a valid XDF file (it does not begin with a file header chunk)"
                )
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
                    raise SessionFormatError(
                        f"{path}: not a valid XDF file (malformed file header chunk)"
                    )
                scan.truncated = True
                break
            pos = end
            scan.n_chunks += 1
        if pos > range_start:
            scan.ranges.append((range_start, pos))
    if scan.n_chunks == 0:
        raise SessionFormatError(
            f"{path}: truncated XDF file: the file header is incomplete ({size} bytes)"
        )
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


def _load_xdf(path: Path, scan: _Scan) -> list:
    import pyxdf

    def source():
        # A file that ends inside a chunk (recorder killed, or still writing) or has a damaged
        # stretch is handed to pyxdf as its complete chunks only (in memory): pyxdf fails on a
        # partial chunk at the end, and on some kinds of damage.
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
                raise SessionFormatError(
                    f"{path}: damaged XDF file, cannot be read ({why})"
                ) from None
    return streams


def _info_value(info: dict, key: str, default=None):
    value = info.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return default if value is None else value


def _desc_value(info: dict, *keys: str):
    """``info/desc/<k1>/<k2>/…`` of a pyxdf stream header, or None."""
    node = _info_value(info, "desc")
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = _info_value(node, key)
    return node if isinstance(node, str) else None


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _to_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _summarize_stream(stream: dict) -> dict:
    info = stream["info"]
    srate = _to_float(_info_value(info, "nominal_srate"))
    ts = np.asarray(stream["time_stamps"], dtype=float)
    n = int(ts.size)
    summary = {
        "name": str(_info_value(info, "name", "")),
        "type": str(_info_value(info, "type", "")),
        "channel_count": _to_int(_info_value(info, "channel_count")),
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


def _read_xdf(path: Path) -> _Xdf:
    """Read and summarise one XDF file; raises SessionFormatError when it cannot be read at all."""
    scan = _scan_xdf(path)
    streams = _load_xdf(path, scan)
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
            problems.append(f"{path.name} holds no streams")
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
        expected = _info_value(footer_info, "sample_count")
        if expected is not None and _to_int(expected) > summary["sample_count"]:
            lost = _to_int(expected) - summary["sample_count"]
            problems.append(
                f"stream {summary['name']!r}: {lost} of the {_to_int(expected)} samples its footer "
                f"counts are missing from {path.name} (damaged chunks)"
            )
    return _Xdf(path=path, streams=streams, summaries=summaries, status=status, problems=problems)


def _check_xdf_file(path: Path) -> dict:
    xdf = _read_xdf(path)
    problems = list(xdf.problems)
    if xdf.status == "interrupted":
        problems.insert(0, INTERRUPTED_PROBLEM)
    return _report(path, xdf.status, problems, xdf.summaries, [])


# --------------------------------------------------------------------------------------------
# videos


def _count_video_frames(path: Path) -> int:
    """Number of complete video packets in ``path``, counted by demuxing (no decoding).

    Every codec mexlab writes (FFV1) is intra-only: one packet is one frame. A file cut by a crash
    is counted up to its first broken or incomplete packet.
    """
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise SessionFormatError(f"{path}: cannot be read as a video ({exc})") from None
    with container:
        if not container.streams.video:
            raise SessionFormatError(f"{path}: holds no video stream")
        stream = container.streams.video[0]
        size = path.stat().st_size
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the empty packet that ends demuxing
                    continue
                if packet.is_corrupt:
                    break
                pos = packet.pos
                if pos is not None and pos >= 0 and pos + packet.size > size:
                    break  # a packet that runs past the end of the file
                count += 1
        except (av.error.FFmpegError, OSError):
            pass  # the first broken packet ends the count: what came before it is good
    return count


def _find_index_stream(xdf: _Xdf, kind: str, file_name: str):
    """The frame-index stream of one video: by desc/video/file, then exact name, then name part."""
    candidates = [
        s for s in xdf.streams if _info_value(s["info"], "type") == FRAME_INDEX_TYPE
    ]
    for s in candidates:
        if _desc_value(s["info"], "video", "file") == file_name:
            return s
    for s in candidates:
        if _info_value(s["info"], "name") == f"mexlab-{kind}-frames":
            return s
    for s in candidates:
        if kind in str(_info_value(s["info"], "name", "")).lower():
            return s
    return None


def _index_frame_numbers(stream) -> np.ndarray:
    series = stream["time_series"]
    if isinstance(series, list):  # a string-format stream: not what the format says, but cope
        values = []
        for row in series:
            try:
                values.append(float(row[0]))
            except (TypeError, ValueError, IndexError):
                values.append(math.nan)
        col = np.asarray(values, dtype=float)
    else:
        arr = np.asarray(series)
        col = arr[:, 0].astype(float) if arr.ndim == 2 and arr.shape[1] else np.zeros(0)
    col = col[np.isfinite(col)]
    return np.rint(col).astype(np.int64)


def _check_video(
    folder: Path, kind: str, file_name: str, xdf: _Xdf | None, xdf_name: str, problems: list[str]
) -> dict:
    video_path = folder / file_name
    frames_in_file = None
    if video_path.is_file():
        frames_in_file = _count_video_frames(video_path)
    else:
        problems.append(f"{file_name} is named in session.json but missing")

    frames_in_index = None
    frame_numbers = None
    if xdf is not None:
        index = _find_index_stream(xdf, kind, file_name)
        if index is None:
            problems.append(
                f"{file_name}: no frame-index stream ({FRAME_INDEX_TYPE}, '{kind}') in {xdf_name}"
            )
            frames_in_index = 0
            frame_numbers = np.zeros(0, dtype=np.int64)
        else:
            frames_in_index = len(index["time_stamps"])
            frame_numbers = _index_frame_numbers(index)

    missing = None
    if frames_in_file is not None and frame_numbers is not None:
        listed = np.unique(frame_numbers)
        in_file = (listed >= 0) & (listed < frames_in_file)
        not_indexed = frames_in_file - int(np.count_nonzero(in_file))
        not_in_file = int(listed.size - np.count_nonzero(in_file))
        missing = not_indexed + not_in_file
        video = _video(file_name, frames_in_file, frames_in_index, missing)
        video["_detail"] = (not_indexed, not_in_file)
        return video
    return _video(file_name, frames_in_file, frames_in_index, missing)


def _video(name, frames_in_file, frames_in_index, missing) -> dict:
    return {
        "name": name,
        "frames_in_file": frames_in_file,
        "frames_in_index": frames_in_index,
        "missing_frames": missing,
    }


def _video_problems(video: dict) -> list[str]:
    out = []
    name, n_file, n_index = video["name"], video["frames_in_file"], video["frames_in_index"]
    if n_file is not None and n_index is not None and n_file != n_index:
        out.append(f"{name}: {n_file} frames in the file but {n_index} in the frame index")
    if video["missing_frames"]:
        not_indexed, not_in_file = video.get("_detail", (None, None))
        parts = []
        if not_indexed:
            parts.append(f"{not_indexed} frame(s) of the file have no index entry")
        if not_in_file:
            parts.append(f"{not_in_file} index entr(y/ies) name frames the file does not hold")
        out.append(
            f"{name}: {video['missing_frames']} frame(s) unmatched between the file and the "
            f"frame index ({'; '.join(parts)})"
        )
    return out


# --------------------------------------------------------------------------------------------
# session folders


def _check_session(folder: Path) -> dict:
    meta = read_sidecar(folder)
    problems: list[str] = []

    sidecar_status = effective_status(meta)
    in_progress = sidecar_status == "recording"
    if in_progress:
        # "recording" is not a status of the report: the writer is alive, so the files are not
        # finished and nothing final can be said yet.
        status = "unknown"
        problems.append(
            f"{IN_PROGRESS_PROBLEM} (writer pid {meta.get('pid')} on {meta.get('host')})"
        )
    elif sidecar_status in ("complete", "interrupted"):
        status = sidecar_status
    else:
        status = "unknown"
        problems.append(f"session.json has no valid status ({meta.get('status')!r})")
    if status == "interrupted":
        problems.append(INTERRUPTED_PROBLEM)

    files = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    xdf_name = files.get("xdf") or XDF_NAME
    xdf_path = folder / xdf_name
    xdf: _Xdf | None = None
    summaries: list[dict] = []
    if not xdf_path.is_file():
        problems.append(f"{xdf_name} is missing")
    else:
        try:
            xdf = _read_xdf(xdf_path)
        except MexlabError as exc:
            problems.append(str(exc))
        else:
            summaries = xdf.summaries
            problems.extend(xdf.problems)
            if status == "complete" and xdf.status == "interrupted":
                problems.append(
                    f"{xdf_name} ends without stream footers although session.json says complete:"
                    " the recorder (LabRecorderCLI) did not finish the file"
                )
            present = {s["name"] for s in summaries}
            for listed in meta.get("streams") or []:
                name = listed.get("name") if isinstance(listed, dict) else None
                if name and name not in present:
                    problems.append(
                        f"stream {name!r} listed in session.json is absent from {xdf_name}"
                    )

    videos = []
    for kind, default in _VIDEO_KINDS:
        named = files.get(kind)
        if named:
            file_name = str(named)
        elif (folder / default).is_file():
            file_name = default
        else:
            continue
        video = _check_video(folder, kind, file_name, xdf, xdf_name, problems)
        if not in_progress:  # a file still being written never matches its index exactly
            problems.extend(_video_problems(video))
        video.pop("_detail", None)
        videos.append(video)

    problems.extend(_loss_problems(meta))
    return _report(folder, status, problems, summaries, videos)


def _loss_problems(meta: dict) -> list[str]:
    """The losses the recorder itself counted (session.json); each is real missing data."""
    out = []
    dropped_frames = _to_int(meta.get("dropped_frames"))
    if dropped_frames > 0:
        detail = []
        counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
        for kind, c in counts.items():
            if not isinstance(c, dict):
                continue
            gap = _to_int(c.get("dropped_counter_gap"))
            overflow = _to_int(c.get("dropped_queue_overflow"))
            if gap or overflow:
                detail.append(f"{kind}: {gap} missed by the camera, {overflow} by a full queue")
        text = f"{dropped_frames} video frame(s) were dropped during the recording"
        if detail:
            text += " (" + "; ".join(detail) + ")"
        out.append(text)
    dropped_samples = _to_int(meta.get("dropped_samples"))
    if dropped_samples > 0:
        out.append(f"{dropped_samples} LSL sample(s) were dropped during the recording")
    return out


# --------------------------------------------------------------------------------------------
# helpers


def _report(path: Path, status: str, problems: list[str], streams: list, videos: list) -> dict:
    return {
        "path": str(path),
        "status": status,
        "ok": not problems,
        "problems": problems,
        "streams": streams,
        "videos": videos,
    }


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _fmt_opt(x) -> str:
    return "?" if x is None else str(x)
