"""``mexlab annotations import|export``: exchange codings with other tools."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("megc", "casme2", "samm", "eaf", "csv")


def add_parser(sub) -> None:
    p = sub.add_parser("annotations", help="import or export coded events",
                       description="Import a coding file into the catalog, or export a session's codings.")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    i = s.add_parser("import", help="import a coding file (CSV, MEGC, CASME II, SAMM, ELAN .eaf)")
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--session", type=Path, required=True, metavar="DIR", help="the session folder (or video) coded")
    i.add_argument("--coder", help="who coded it (needed for sheets, which do not say)")
    i.add_argument("--format", choices=FORMATS, help="default: guessed from the file")
    i.add_argument("--db", metavar="URL", help="catalog database (default: $MEXLAB_DB or the local one)")
    e = s.add_parser("export", help="export a session's codings")
    e.add_argument("session", type=Path, metavar="DIR")
    e.add_argument("--coder", help="one coder (needed for megc, casme2, samm when several coded)")
    e.add_argument("--format", choices=FORMATS, required=True)
    e.add_argument("--out", type=Path, required=True, metavar="FILE", help="sheets: .xlsx or .csv")
    e.add_argument("--db", metavar="URL")
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.annotation.service import export_coding, import_coding
    from analysis.annotation.store import AnnotationStore

    with AnnotationStore(args.db) as store:
        if args.action == "import":
            got = import_coding(store, args.file, args.session, args.coder, args.format)
            for coder, n in got.items():
                print(f"imported {n} event(s) of coder {coder} into {args.session}")
        else:
            n = export_coding(store, args.session, args.format, args.out, args.coder)
            print(f"wrote {n} event(s) to {args.out}")
    return 0
