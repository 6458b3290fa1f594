"""Plain-text rendering of catalog rows (``mexlab sessions list``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

COLUMNS = ("started", "participant", "protocol", "status", "health", "duration", "streams", "drops", "size", "folder")
RIGHT_ALIGNED = {"duration", "drops", "size"}
STREAMS_WIDTH = 40
HEALTH_WIDTH = 48


def format_status(row: dict) -> str:
    """``aborted (at step 7 of 24)``: the status with the short form of its detail."""
    status = row.get("status") or "-"
    detail = row.get("status_detail")
    if status == "aborted" and detail:
        short = str(detail).removeprefix("aborted ").split(",")[0]
        return f"{status} ({short})"
    return status


def format_health_cell(row: dict, width: int | None = HEALTH_WIDTH) -> str:
    """``bad: 158 RGB frames dropped (9 %; …)`` shortened to ``width``; ``-`` when not checked."""
    from acquisition.health import format_health

    health = row.get("health")
    if not health:
        return "-"
    text = format_health(health, limit=1)
    return _shorten(text, width) if width else text


def format_started(value: str | None) -> str:
    """An ISO timestamp as local time, to the second."""
    if not value:
        return "-"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone()  # local time zone
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    if seconds is None:
        return "-"
    total = max(0, int(round(float(seconds))))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_size(n_bytes: int | None) -> str:
    """Bytes in B, KB, MB, GB, TB (powers of 1000)."""
    if n_bytes is None:
        return "-"
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"  # pragma: no cover


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cells(row: dict) -> dict[str, str]:
    streams = row.get("streams") or []
    return {
        "started": format_started(row.get("started_at")),
        "participant": row.get("participant") or "-",
        "protocol": row.get("protocol") or "-",
        "status": format_status(row),
        "health": format_health_cell(row),
        "duration": format_duration(row.get("duration_s")),
        "streams": _shorten(", ".join(streams), STREAMS_WIDTH) if streams else "-",
        "drops": f"{row.get('dropped_frames') or 0}/{row.get('dropped_samples') or 0}",
        "size": format_size(row.get("disk_bytes")),
        "folder": row.get("folder") or "-",
    }


def format_sessions_table(rows: Iterable[dict]) -> str:
    """A plain-text table of sessions as :meth:`Catalog.list_sessions` returns them.

    ``drops`` is dropped video frames / dropped samples; ``health`` the check's verdict with its
    first reason (:mod:`acquisition.health`). Times are shown in the local time zone.
    """
    cells: Sequence[dict[str, str]] = [_cells(row) for row in rows]
    if not cells:
        return "No sessions in the catalog."
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in COLUMNS}

    def line(values: dict[str, str]) -> str:
        parts = []
        for c in COLUMNS:
            if c == COLUMNS[-1]:
                parts.append(values[c])  # last column: no padding
            elif c in RIGHT_ALIGNED:
                parts.append(values[c].rjust(widths[c]))
            else:
                parts.append(values[c].ljust(widths[c]))
        return "  ".join(parts).rstrip()

    out = [line({c: c for c in COLUMNS}), line({c: "-" * widths[c] for c in COLUMNS})]
    out.extend(line(r) for r in cells)
    return "\n".join(out)
