"""Session operations shared by the GUI and the CLI (commands, after SLEAP): list, re-check, delete,
the self-report answers of a session."""

from __future__ import annotations

import shutil
from pathlib import Path

from acquisition.errors import MexlabError, NotFoundError
from acquisition.session_read.names import SIDECAR


def list_sessions(db_url: str | None = None, **filters) -> list[dict]:
    from acquisition.catalog import Catalog

    cat = Catalog(db_url)
    try:
        return cat.list_sessions(**filters)
    finally:
        cat.close()


def responses(session_id: str | None = None, db_url: str | None = None, **filters) -> list[dict]:
    """Self-report answers from the catalog (``mexlab sessions responses``)."""
    from acquisition.catalog import Catalog

    cat = Catalog(db_url)
    try:
        return cat.list_responses(session_id, **filters)
    finally:
        cat.close()


def recheck(folder: Path, db_url: str | None = None) -> dict:
    """Run ``mexlab check`` on a session folder and update its catalog entry."""
    from acquisition.catalog import Catalog
    from acquisition.check import check_path

    report = check_path(Path(folder))
    cat = Catalog(db_url)
    try:
        report["catalog_warnings"] = cat.register_session(Path(folder), check=report).get("warnings", [])
    finally:
        cat.close()
    return report


def session_health(folder: Path, db_url: str | None = None) -> dict:
    """The health verdict of a session folder (:mod:`acquisition.health`), as the Sessions list shows
    it: the catalog's when the session is catalogued and was checked, else from a check now.
    Returns ``{"verdict", "reasons", "status", "status_detail"}``."""
    from acquisition.catalog.register import check_for_catalog
    from acquisition.session import read_sidecar

    folder = Path(folder)
    try:
        sid = str(read_sidecar(folder).get("session_id") or "")
    except MexlabError as exc:
        return {"verdict": "bad", "reasons": [str(exc)], "status": "unknown", "status_detail": None}
    if sid:
        try:
            from acquisition.catalog import Catalog

            cat = Catalog(db_url)
            try:
                row = cat.get_session(sid)
            finally:
                cat.close()
            if row is not None and row.get("health") and Path(row["folder"]) == folder.resolve():
                return {**row["health"], "status": row["status"], "status_detail": row.get("status_detail")}
        except MexlabError:
            pass
    report = check_for_catalog(folder)
    return {**report["health"], "status": report.get("status"), "status_detail": report.get("status_detail")}


def delete_session(session_id: str, db_url: str | None = None, delete_files: bool = False) -> dict:
    """Remove a session from the catalog; its folder too only when ``delete_files`` is asked for."""
    from acquisition.catalog import Catalog

    cat = Catalog(db_url)
    try:
        row = cat.get_session(session_id)
        if row is None:
            raise NotFoundError(f"no session {session_id} in the catalog")
        cat.delete_session(row["session_id"])
    finally:
        cat.close()
    if delete_files:
        folder = Path(row["folder"])
        if folder.is_dir() and (folder / SIDECAR).is_file():
            shutil.rmtree(folder)
    return row
