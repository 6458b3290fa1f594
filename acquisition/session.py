"""The session folder and its sidecar ``session.json`` (see docs/session-format.md)."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from acquisition.errors import SessionFormatError

FORMAT = "mexlab-session/1"
SIDECAR = "session.json"
XDF_NAME = "recording.xdf"
RGB_NAME = "rgb.mkv"
DEPTH_NAME = "depth.mkv"
GROUND_TRUTH_NAME = "ground_truth.csv"
GROUND_TRUTH_PHYSIO_NAME = "ground_truth_physio.json"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


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
        return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def effective_status(meta: dict) -> str:
    """``complete``, ``interrupted``, ``recording`` (writer still alive) or ``unknown``.

    A sidecar left at ``recording`` whose writer process is gone (or was on another host and never
    finished) means the recording was interrupted: killed, crashed, or the machine lost power.
    """
    status = meta.get("status")
    if status in ("complete", "interrupted"):
        return status
    if status == "recording":
        if meta.get("host") == socket.gethostname():
            return "recording" if writer_alive(meta) else "interrupted"
        # written on another machine (a shared catalog): alive while its sidecar is fresh
        return "recording" if _age_s(meta.get("updated_at")) < STALE_AFTER_S else "interrupted"
    return "unknown"
