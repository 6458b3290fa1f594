"""``mexlab check PATH``: verify a session folder or any XDF file."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="verify a session folder or an XDF file",
        description="Check that every stream and video frame is present and consistent. Exit 1 when not.",
    )
    p.add_argument("path", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--db", metavar="URL", help="catalog to update with the status found (session folders)")
    p.set_defaults(func=run)


def run(args) -> int:
    from acquisition.check import check_path, format_check

    if args.db is not None:  # a catalog asked for by name must be usable: refused before the check
        from acquisition.catalog import Catalog

        Catalog(args.db).close()  # MexlabError (exit 2) naming the URL when it is not
    report = check_path(args.path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_check(report))
    if args.db is not None or _is_session(args.path):
        _update_catalog(args.path, args.db, report)
    return 0 if report["ok"] else 1


def _is_session(path: Path) -> bool:
    from acquisition.session import is_session_folder

    return is_session_folder(path)


def _update_catalog(path: Path, db: str | None, report: dict) -> None:
    import sys

    from acquisition.errors import MexlabError

    if not _is_session(path):
        return
    try:
        from acquisition.catalog import Catalog

        cat = Catalog(db)
        try:
            for warning in cat.register_session(path, check=report).get("warnings", []):
                print(f"mexlab check: note: {warning}", file=sys.stderr)
        finally:
            cat.close()
    except MexlabError as exc:
        print(f"mexlab check: note: catalog not updated: {exc}", file=sys.stderr)
