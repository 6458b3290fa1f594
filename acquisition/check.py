"""``mexlab check``: verify a recording (a session folder or any ``.xdf`` file).

:func:`check_path` returns a JSON-able report::

    {"path": str, "status": "complete" | "aborted" | "interrupted" | "unknown",
     "status_detail": str | None,            # e.g. "aborted at step 7 of 24, mission (act)"
     "ok": bool, "problems": [str],
     "health": {"verdict": "ok" | "warning" | "bad", "reasons": [str]},   # acquisition.health
     "duration_s": float | None, "duration_from": "session.json" | "files",
     "streams": [{"name", "type", "channel_count", "nominal_srate", "effective_srate",
                  "sample_count", "first_timestamp", "last_timestamp", "gaps"}],
     "videos": [{"name", "frames_in_file", "frames_in_index", "missing_frames", "width", "height",
                 "first_timestamp", "last_timestamp"}]}

and :func:`format_check` turns it into readable text. ``ok`` is True exactly when ``problems`` is
empty, which is exactly when the health verdict is ``ok``. Every problem has a severity (bad or
warning, see :mod:`acquisition.health`); the fields of ``session.json`` are verified
(:func:`acquisition.session.sidecar_problems`) and each video's picture size against its
``modes`` entry. An interrupted recording's duration is recovered from the files
(:func:`recover_interrupted` writes it into the sidecar). Paths that cannot be checked at all (missing, not a session folder, not an XDF file, a video
that cannot be opened) raise :class:`~acquisition.errors.SessionFormatError` with one message that
names the file and what is wrong.

Where the work is done:

* :mod:`acquisition.xdf_read` reads the XDF robustly (:func:`~acquisition.xdf_read.read_xdf_robust`)
  and holds the decisions behind the stream numbers and the status of a plain XDF file:
  timestamps, gaps, effective rate, footers, damaged files.
* :mod:`acquisition.check_video` counts each video's frames (demuxed, not decoded) and matches them
  against its frame-index stream.
* This module: :func:`check_path`, :func:`format_check`, the report, and the checks of a session
  folder.

Decisions (see also the comments where they are applied):

* **Status of a session folder.** :func:`acquisition.session.effective_status` of ``session.json``;
  ``recording`` (the writer is still alive) is reported as ``unknown`` with the problem "recording
  still in progress", and the frame counts of the videos (still being written) are then not
  reported as problems.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.check_video import (  # noqa: F401  (FRAME_INDEX_TYPE: importable from here)
    FRAME_INDEX_TYPE,
    check_video,
    mode_problem,
    video_problems,
)
from acquisition.errors import MexlabError, SessionFormatError
from acquisition.health import BAD, WARNING, drop_issues, format_health, health_of
from acquisition.session import (
    DEPTH_NAME,
    FINAL_STATUSES,
    RGB_NAME,
    XDF_NAME,
    effective_status,
    is_session_folder,
    now_iso,
    read_sidecar,
    sidecar_problems,
    status_detail,
    write_sidecar,
)
from acquisition.session_read.names import SIDECAR
from acquisition.xdf_read import (  # noqa: F401  (GAP_FACTOR: importable from here)
    GAP_FACTOR,
    XdfContents,
    read_xdf_robust,
    to_int,
)

INTERRUPTED_PROBLEM = "recording was interrupted; data up to the interruption is readable"
IN_PROGRESS_PROBLEM = "recording still in progress"

_VIDEO_KINDS = (("rgb", RGB_NAME), ("depth", DEPTH_NAME))

# the robust XDF reader, by the name it had when it lived here
_read_xdf = read_xdf_robust


def _read_xdf_bounded(path: Path) -> XdfContents:
    """:func:`read_xdf_robust` with the samples of the fast streams (EMG, ECG) in a temporary
    folder: the check needs only their summaries, so an hour-long recording is checked in memory
    that does not grow with its length (the frame indexes and markers are kept as usual)."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="mexlab-check-") as td:
            return read_xdf_robust(path, spill_dir=Path(td))
    except OSError:  # no room for the temporary files (SpillFailed, …): read into memory instead
        return read_xdf_robust(path)


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
    status = str(report.get("status"))
    if report.get("status_detail"):
        status += f" ({report['status_detail']})"
    lines = [f"{report.get('path')}", f"  status: {status} — {verdict}"]
    if report.get("health") is not None:
        lines.append(f"  health: {format_health(report['health'])}")
    if report.get("duration_s") is not None:
        src = (
            " (recovered from the files)"
            if report.get("duration_from") == "files" and report.get("status") == "interrupted"
            else ""
        )
        lines.append(f"  duration: {report['duration_s']:.1f} s{src}")
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
            body += f"; {s['first_timestamp']:.3f} .. {s['last_timestamp']:.3f} s ({span:.3f} s)"
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
# plain XDF files


def _check_xdf_file(path: Path) -> dict:
    xdf = _read_xdf_bounded(path)
    issues = [(WARNING, text) for text in xdf.problems]
    if xdf.status == "interrupted":
        issues.insert(0, (WARNING, INTERRUPTED_PROBLEM))
    report = _report(path, xdf.status, [t for _, t in issues], xdf.summaries, [])
    lasts = [s["last_timestamp"] for s in xdf.summaries if s.get("last_timestamp") is not None]
    firsts = [s["first_timestamp"] for s in xdf.summaries if s.get("first_timestamp") is not None]
    report["status_detail"] = None
    report["duration_s"] = round(max(lasts) - min(firsts), 3) if lasts and firsts else None
    report["duration_from"] = "files"
    report["health"] = health_of(issues)
    return report


# --------------------------------------------------------------------------------------------
# session folders


def _check_session(folder: Path) -> dict:
    meta = read_sidecar(folder)
    issues: list[tuple[str, str]] = []  # (severity, text): health.BAD or health.WARNING

    def bad(text: str) -> None:
        issues.append((BAD, text))

    def warn(text: str) -> None:
        issues.append((WARNING, text))

    sidecar_status = effective_status(meta)
    in_progress = sidecar_status == "recording"
    if in_progress:
        # "recording" is not a status of the report: the writer is alive, so the files are not
        # finished and nothing final can be said yet.
        status = "unknown"
        warn(f"{IN_PROGRESS_PROBLEM} (writer pid {meta.get('pid')} on {meta.get('host')})")
    elif sidecar_status in FINAL_STATUSES:
        status = sidecar_status
    else:
        status = "unknown"
        bad(f"session.json has no valid status (field 'status' is {meta.get('status')!r})")
    if status == "interrupted":
        warn(INTERRUPTED_PROBLEM)
    elif status == "aborted":
        warn(status_detail(meta) or "protocol aborted")
    for text in sidecar_problems(meta):
        bad(text)

    files = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    xdf_name = files.get("xdf") if isinstance(files.get("xdf"), str) and files.get("xdf") else XDF_NAME
    xdf_path = folder / xdf_name
    xdf: XdfContents | None = None
    summaries: list[dict] = []
    if not xdf_path.is_file():
        bad(f"{xdf_name} is missing")
    else:
        try:
            xdf = _read_xdf_bounded(xdf_path)
        except MexlabError as exc:
            bad(str(exc))
        else:
            summaries = xdf.summaries
            for text in xdf.problems:
                warn(text)
            if status in ("complete", "aborted") and xdf.status == "interrupted":
                bad(
                    f"{xdf_name} ends without stream footers although session.json says {status}:"
                    " the recorder (LabRecorderCLI) did not finish the file"
                )
            present = {s["name"] for s in summaries}
            listed_streams = meta.get("streams") if isinstance(meta.get("streams"), list) else []
            for listed in listed_streams:
                name = listed.get("name") if isinstance(listed, dict) else None
                if name and name not in present:
                    bad(f"stream {name!r} listed in session.json is absent from {xdf_name}")

    videos = []
    modes = meta.get("modes") if isinstance(meta.get("modes"), dict) else {}
    for kind, default in _VIDEO_KINDS:
        named = files.get(kind)
        if named and isinstance(named, str):
            file_name = named
        elif (folder / default).is_file():
            file_name = default
        else:
            continue
        found: list[str] = []
        video = check_video(folder, kind, file_name, xdf, xdf_name, found)  # unreadable: raises
        for text in found:
            bad(text)
        if not in_progress:  # a file still being written never matches its index exactly
            for text in video_problems(video):
                # cut by a crash, a video and its index may differ in the frames of the last moment
                # (expected, said as a warning); after a clean stop they must match exactly
                (warn if status == "interrupted" else bad)(text)
        size_problem = mode_problem(video, kind, modes.get(kind))
        if size_problem:
            bad(size_problem)
        video.pop("_detail", None)
        videos.append(video)

    issues.extend(drop_issues(meta))
    report = _report(folder, status, [t for _, t in issues], summaries, videos)
    report["status_detail"] = status_detail(meta)
    report["duration_s"], report["duration_from"] = _duration(meta, status, summaries, videos)
    report["health"] = health_of(issues)
    return report


def _duration(meta: dict, status: str, summaries: list[dict], videos: list[dict]):
    """The session's duration and where it comes from.

    A clean stop writes ``duration_s`` in session.json. An interrupted recording's sidecar holds the
    last checkpoint (up to a second old, or nothing); its true length is read from the files: the
    last timestamp in the XDF (any stream, the frame indexes included) after ``started_lsl``.
    """
    stored = meta.get("duration_s")
    stored = float(stored) if isinstance(stored, (int, float)) and not isinstance(stored, bool) else None
    if status != "interrupted" and not (status == "unknown" and stored is None):
        return stored, SIDECAR
    lasts = [s["last_timestamp"] for s in summaries if s.get("last_timestamp") is not None]
    lasts += [v["last_timestamp"] for v in videos if v.get("last_timestamp") is not None]
    firsts = [s["first_timestamp"] for s in summaries if s.get("first_timestamp") is not None]
    start = meta.get("started_lsl")
    if not isinstance(start, (int, float)) or isinstance(start, bool):
        start = min(firsts) if firsts else None
    if lasts and start is not None:
        recovered = round(max(lasts) - float(start), 3)
        if recovered >= 0 and (stored is None or recovered >= stored):
            return recovered, "files"
    frames = [(v.get("frames_in_file"), (meta.get("modes") or {}).get(v["name"].split(".")[0])) for v in videos]
    for n, mode in frames:
        if n and isinstance(mode, dict) and isinstance(mode.get("fps"), int) and mode["fps"] > 0:
            recovered = round(n / mode["fps"], 3)
            if stored is None or recovered >= stored:
                return recovered, "files"
    return stored, SIDECAR


def recover_interrupted(folder: Path, report: dict) -> bool:
    """Write what a check found out about an interrupted recording into its ``session.json``.

    A sidecar still saying ``recording`` whose writer is gone on this host (killed, crashed) is set
    to ``interrupted`` with the duration found in the files (``duration_s``; the old checkpoint value
    kept as ``checkpoint_duration_s``) and ``recovered_at``. Written atomically; nothing else
    changes. Returns True when the sidecar was rewritten; a folder that cannot be written is left
    as it is (the check report still says it).
    """
    import socket

    folder = Path(folder)
    if report.get("status") != "interrupted":
        return False
    try:
        meta = read_sidecar(folder)
    except SessionFormatError:
        return False
    if meta.get("status") != "recording" or meta.get("host") != socket.gethostname():
        return False  # another machine's recording: only that machine can know its writer is gone
    if effective_status(meta) != "interrupted":
        return False
    meta["status"] = "interrupted"
    if report.get("duration_from") == "files" and report.get("duration_s") is not None:
        meta["checkpoint_duration_s"] = meta.get("duration_s")
        meta["duration_s"] = report["duration_s"]
    meta["recovered_at"] = now_iso()
    meta.setdefault("stop_reason", "interrupted (the recording process ended without stopping)")
    try:
        write_sidecar(folder, meta)
    except OSError:
        return False
    return True


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
