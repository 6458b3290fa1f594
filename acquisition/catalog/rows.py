"""A catalog session row as the dicts :class:`~acquisition.catalog.db.Catalog` returns.

:func:`session_summary` (what :meth:`Catalog.list_sessions` lists) and :func:`session_details`
(what :meth:`Catalog.get_session` and :meth:`Catalog.register_session` return). Times are ISO 8601
strings in UTC.
"""

from __future__ import annotations

import json

from acquisition.catalog.models import Session
from acquisition.catalog.values import _iso


def _reasons(row: Session) -> list[str]:
    try:
        reasons = json.loads(row.health_reasons) if row.health_reasons else []
    except ValueError:
        reasons = []
    return [str(r) for r in reasons] if isinstance(reasons, list) else []


def session_summary(row: Session) -> dict:
    """A session row as a line of the list (``mexlab sessions list``, the sessions table).

    ``health`` is ``{"verdict": "ok" | "warning" | "bad", "reasons": [...]}`` (None: not checked
    since the catalog had the column); ``status_detail`` e.g. "aborted at step 7 of 24, …".
    """
    return {
        "session_id": row.session_id,
        "participant": row.participant.pseudonym if row.participant else None,
        "protocol": row.protocol,
        "folder": row.folder,
        "status": row.status,
        "status_detail": row.status_detail,
        "health": {"verdict": row.health, "reasons": _reasons(row)} if row.health else None,
        "started_at": _iso(row.started_at),
        "duration_s": row.duration_s,
        "streams": [s.name for s in row.streams],
        "dropped_frames": row.dropped_frames,
        "dropped_samples": row.dropped_samples,
        "disk_bytes": row.disk_bytes,
    }


def session_details(row: Session) -> dict:
    """A session row in full: its summary, files, streams and the sidecar it was read from."""
    out = session_summary(row)
    try:
        sidecar = json.loads(row.sidecar) if row.sidecar else None
    except ValueError:
        sidecar = None
    out.update(
        {
            "source": row.source,
            "stopped_at": _iso(row.stopped_at),
            "host": row.host,
            "pid": row.pid,
            "registered_at": _iso(row.registered_at),
            "updated_at": _iso(row.updated_at),
            "files": [{"role": f.role, "path": f.path, "size_bytes": f.size_bytes} for f in row.files],
            "stream_details": [
                {
                    "name": s.name,
                    "type": s.type,
                    "source_id": s.source_id,
                    "role": s.role,
                    "channel_count": s.channel_count,
                    "nominal_srate": s.nominal_srate,
                    "samples": s.samples,
                    "gaps": s.gaps,
                }
                for s in row.streams
            ],
            "sidecar": sidecar,
        }
    )
    return out
