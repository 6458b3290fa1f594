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
    video_problems,
)
from acquisition.errors import MexlabError, SessionFormatError
from acquisition.session import (
    DEPTH_NAME,
    RGB_NAME,
    XDF_NAME,
    effective_status,
    is_session_folder,
    read_sidecar,
)
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
# plain XDF files


def _check_xdf_file(path: Path) -> dict:
    xdf = read_xdf_robust(path)
    problems = list(xdf.problems)
    if xdf.status == "interrupted":
        problems.insert(0, INTERRUPTED_PROBLEM)
    return _report(path, xdf.status, problems, xdf.summaries, [])


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
    xdf: XdfContents | None = None
    summaries: list[dict] = []
    if not xdf_path.is_file():
        problems.append(f"{xdf_name} is missing")
    else:
        try:
            xdf = read_xdf_robust(xdf_path)
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
        video = check_video(folder, kind, file_name, xdf, xdf_name, problems)
        if not in_progress:  # a file still being written never matches its index exactly
            problems.extend(video_problems(video))
        video.pop("_detail", None)
        videos.append(video)

    problems.extend(_loss_problems(meta))
    return _report(folder, status, problems, summaries, videos)


def _loss_problems(meta: dict) -> list[str]:
    """The losses the recorder itself counted (session.json); each is real missing data."""
    out = []
    dropped_frames = to_int(meta.get("dropped_frames"))
    if dropped_frames > 0:
        detail = []
        counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
        for kind, c in counts.items():
            if not isinstance(c, dict):
                continue
            gap = to_int(c.get("dropped_counter_gap"))
            overflow = to_int(c.get("dropped_queue_overflow"))
            if gap or overflow:
                detail.append(f"{kind}: {gap} missed by the camera, {overflow} by a full queue")
        text = f"{dropped_frames} video frame(s) were dropped during the recording"
        if detail:
            text += " (" + "; ".join(detail) + ")"
        out.append(text)
    dropped_samples = to_int(meta.get("dropped_samples"))
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
