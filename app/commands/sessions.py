"""``mexlab sessions list|register|rescan|delete|responses``: the catalog of recordings."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("sessions", help="the catalog of recorded sessions")
    ss = p.add_subparsers(dest="sessions_command", metavar="SUBCOMMAND", required=True)
    ls = ss.add_parser("list", help="list sessions")
    ls.add_argument("--participant")
    ls.add_argument("--status", choices=["complete", "aborted", "interrupted", "recording", "unknown"])
    ls.add_argument("--health", choices=["ok", "warning", "bad"], help="only sessions with this health verdict")
    ls.add_argument("--search", help="text to find in participant, protocol or folder")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rg = ss.add_parser("register", help="(re-)register session folders from their files")
    rg.add_argument("folders", nargs="+", type=Path)
    rg.set_defaults(func=run_register)
    rs = ss.add_parser("rescan", help="register every session folder under a root folder")
    rs.add_argument("root", type=Path)
    rs.set_defaults(func=run_rescan)
    dl = ss.add_parser("delete", help="remove a session from the catalog (files kept unless --files)")
    dl.add_argument("session_id", help="the session id (or a unique prefix of it)")
    dl.add_argument("--files", action="store_true", help="also delete the session folder from disk")
    dl.add_argument("--yes", action="store_true", help="confirm (required: nothing is deleted silently)")
    dl.set_defaults(func=run_delete)
    rp = ss.add_parser("responses", help="self-report answers of protocol runs (from responses.csv)")
    rp.add_argument(
        "session_id", nargs="?", metavar="SESSION_ID", help="only this session (its id or a unique prefix of it)"
    )
    rp.add_argument("--participant", help="only this participant (pseudonym)")
    rp.add_argument("--protocol", metavar="NAME", help="only this protocol")
    out = rp.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the rows as JSON")
    out.add_argument("--csv", metavar="FILE", type=Path, help="write the rows to a CSV file ('-': print)")
    rp.set_defaults(func=run_responses)
    for q in (ls, rg, rs, dl, rp):
        q.add_argument("--db", metavar="URL", help="catalog database URL")


def _catalog(args):
    from acquisition.catalog import Catalog

    return Catalog(args.db)


def run_list(args) -> int:
    from acquisition.catalog.format import format_sessions_table

    cat = _catalog(args)
    rows = cat.list_sessions(participant=args.participant, status=args.status, search=args.search)
    cat.close()
    if args.health:
        rows = [r for r in rows if (r.get("health") or {}).get("verdict") == args.health]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(format_sessions_table(rows))
    return 0


def run_register(args) -> int:
    from acquisition.health import format_health

    cat = _catalog(args)
    for folder in args.folders:
        row = cat.register_session(folder)
        _warn(row.get("warnings", []))
        health = row.get("health") or {}
        status = row.get("status")
        if row.get("status_detail") and row["status_detail"] not in (health.get("reasons") or []):
            status += f", {row['status_detail']}"
        if health.get("verdict") not in (None, "ok"):
            # a session with missing or damaged data is never announced as plainly "complete"
            verdict, _, reasons = format_health(health, limit=3).partition(": ")
            status = f"{verdict.upper()}: {reasons} — session.json says {status}"
        print(
            f"registered {folder} ({status}" + (f", {row['responses']} response(s))" if row.get("responses") else ")")
        )
    cat.close()
    return 0


def run_rescan(args) -> int:
    from acquisition.errors import NotFoundError

    if not args.root.is_dir():
        raise NotFoundError(f"{args.root}: not a folder")
    cat = _catalog(args)
    n = cat.rescan(args.root, on_warning=lambda _folder, message: _warn([message]))
    cat.close()
    print(f"registered {n} session folder(s) under {args.root}")
    return 0


def run_delete(args) -> int:
    from acquisition.errors import InputError
    from app.services.session_ops import delete_session

    if not args.yes:
        raise InputError("deleting needs --yes (and --files to remove the folder from disk too)")
    row = delete_session(args.session_id, args.db, delete_files=args.files)
    print(
        f"deleted session {row['session_id']} from the catalog"
        + (f" and {row['folder']}" if args.files else f"; files kept in {row['folder']}")
    )
    return 0


def _warn(messages) -> None:
    for message in messages:
        print(f"mexlab sessions: warning: {message}", file=sys.stderr)


def run_responses(args) -> int:
    import csv

    from acquisition.catalog.responses import COLUMNS, format_responses_table
    from acquisition.errors import OutputError
    from app.services.session_ops import responses

    rows = responses(args.session_id, args.db, participant=args.participant, protocol=args.protocol)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif args.csv is not None:
        fields = ["session_id", *COLUMNS]
        if str(args.csv) == "-":
            writer = csv.DictWriter(sys.stdout, fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _csv_value(v) for k, v in r.items()} for r in rows)
            return 0
        from acquisition.atomic import atomic_write, check_out_file

        check_out_file(args.csv, (".csv",), flag="--csv", what="CSV file")
        try:
            with atomic_write(args.csv, newline="") as fh:  # an earlier file is kept if this fails
                writer = csv.DictWriter(fh, fields)
                writer.writeheader()
                writer.writerows({k: _csv_value(v) for k, v in r.items()} for r in rows)
        except OSError as exc:
            raise OutputError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
        print(f"wrote {len(rows)} response(s) to {args.csv}")
    else:
        print(format_responses_table(rows))
    return 0


def _csv_value(value):
    if isinstance(value, bool):
        return int(value)  # as in responses.csv
    return "" if value is None else value
