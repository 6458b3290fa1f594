"""What a catalog row is made of, read leniently from a session folder (a row is better than none).

The conversions of ``session.json`` values (``_parse_time``, ``_iso``, ``_int``, ``_float``,
``_str``: a value of the wrong type or format becomes ``None`` or the default, never an error) and
:func:`scan_files`, the files of a session folder with their role in the catalog. Used by
:mod:`acquisition.catalog.register` and :mod:`acquisition.catalog.rows`.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from acquisition.session_read import names

# Files of a session folder by name, and their role in the catalog.
_KNOWN_ROLES = {
    names.SIDECAR: "sidecar",
    names.XDF_NAME: "xdf",
    names.RGB_NAME: "rgb",
    names.DEPTH_NAME: "depth",
    names.GROUND_TRUTH_NAME: "ground_truth",
    names.GROUND_TRUTH_PHYSIO_NAME: "ground_truth_physio",
}


# --------------------------------------------------------------------------------------------------
# small conversions of sidecar values (lenient: a catalog row is better than none)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat()


def _int(value: Any, default: int | None = 0) -> int | None:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _str(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value)
    if not text:
        return None
    return text[:limit] if limit else text


def scan_files(folder: Path, meta: dict) -> list[tuple[str, str, int]]:
    """``(role, relative path, size in bytes)`` of every file in a session folder."""
    roles = dict(_KNOWN_ROLES)
    named = meta.get("files")
    if isinstance(named, dict):
        for role, rel in named.items():
            if isinstance(rel, str) and rel:
                roles[PurePath(rel).as_posix()] = str(role)
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith(".session.") and name.endswith(".tmp"):
                continue  # a sidecar being written this instant
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue  # vanished while we looked
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = path.relative_to(folder).as_posix()
            found.append((roles.get(rel, "other"), rel, st.st_size))
    return found
