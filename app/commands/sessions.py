"""``mexlab sessions list|register|rescan``: the catalog of recordings."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("sessions", help="the catalog of recorded sessions")
    ss = p.add_subparsers(dest="sessions_command", metavar="SUBCOMMAND", required=True)
    ls = ss.add_parser("list", help="list sessions")
    ls.add_argument("--participant")
    ls.add_argument("--status", choices=["complete", "interrupted", "recording", "unknown"])
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
    for q in (ls, rg, rs, dl):
        q.add_argument("--db", metavar="URL", help="catalog database URL")


def _catalog(args):
    from acquisition.catalog import Catalog

    return Catalog(args.db)


def run_list(args) -> int:
    from acquisition.catalog.format import format_sessions_table

    cat = _catalog(args)
    rows = cat.list_sessions(participant=args.participant, status=args.status, search=args.search)
    cat.close()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(format_sessions_table(rows))
    return 0


def run_register(args) -> int:
    cat = _catalog(args)
    for folder in args.folders:
        row = cat.register_session(folder)
        print(f"registered {folder} ({row.get('status')})")
    cat.close()
    return 0


def run_rescan(args) -> int:
    from acquisition.errors import MexlabError

    if not args.root.is_dir():
        raise MexlabError(f"{args.root}: not a folder")
    cat = _catalog(args)
    n = cat.rescan(args.root)
    cat.close()
    print(f"registered {n} session folder(s) under {args.root}")
    return 0


def run_delete(args) -> int:
    from acquisition.errors import MexlabError
    from app.session_ops import delete_session

    if not args.yes:
        raise MexlabError("deleting needs --yes (and --files to remove the folder from disk too)")
    row = delete_session(args.session_id, args.db, delete_files=args.files)
    print(f"deleted session {row['session_id']} from the catalog" + (f" and {row['folder']}" if args.files else
                                                                      f"; files kept in {row['folder']}"))
    return 0
