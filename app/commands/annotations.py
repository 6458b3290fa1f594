"""``mexlab annotations import|export|consensus``: exchange codings with other tools, and store the
consensus of two coders."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("megc", "casme2", "samm", "eaf", "csv")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "annotations",
        help="import or export coded events",
        description="Import a coding file into the catalog, or export a session's codings.",
    )
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    i = s.add_parser("import", help="import a coding file (CSV, MEGC, CASME II, SAMM, ELAN .eaf)")
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--session", type=Path, required=True, metavar="DIR", help="the session folder (or video) coded")
    i.add_argument("--coder", help="who coded it (needed for sheets, which do not say)")
    i.add_argument("--format", choices=FORMATS, help="default: guessed from the file")
    i.add_argument(
        "--replace", action="store_true", help="replace the coder's earlier coding of the session (refused without it)"
    )
    i.add_argument("--db", metavar="URL", help="catalog database (default: $MEXLAB_DB or the local one)")
    e = s.add_parser("export", help="export a session's codings")
    e.add_argument("session", type=Path, metavar="DIR")
    e.add_argument("--coder", help="one coder (needed for megc, casme2, samm when several coded)")
    e.add_argument("--format", choices=FORMATS, required=True)
    e.add_argument("--out", type=Path, required=True, metavar="FILE", help="sheets: .xlsx or .csv")
    e.add_argument("--db", metavar="URL")
    c = s.add_parser(
        "consensus",
        help="store the consensus of two coders' codings (coder 'consensus')",
        description="Pair two coders' events one-to-one at IoU >= 0.5 and store the consensus "
        "as coder 'consensus' (replacing an earlier one).",
    )
    c.add_argument("session", type=Path, metavar="DIR")
    c.add_argument("--coders", nargs=2, required=True, metavar=("A", "B"))
    c.add_argument(
        "--rule",
        choices=("union", "intersection", "a", "b"),
        default="union",
        help="for every pair: merge (mean frames) with the union / intersection of the AUs, "
        "or take coder A's / B's event (default: union)",
    )
    c.add_argument(
        "--unpaired", choices=("keep", "drop"), default="keep", help="events only one coder coded (default: keep)"
    )
    c.add_argument("--db", metavar="URL")
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.annotation.service import export_coding, import_coding
    from analysis.annotation.store import AnnotationStore

    with AnnotationStore(args.db) as store:
        if args.action == "import":
            got = import_coding(store, args.file, args.session, args.coder, args.format, replace=args.replace)
            for coder, n in got.items():
                was = f", replacing their {n['replaced']} earlier event(s)" if n["replaced"] else ""
                print(f"imported {n['imported']} event(s) of coder {coder} into {args.session}{was}")
        elif args.action == "consensus":
            from analysis.annotation.consensus import session_consensus

            rec, evs = session_consensus(store, args.session, *args.coders, rule=args.rule, unpaired=args.unpaired)
            print(
                f"{len(rec.pairs)} pair(s), {len(rec.only_a)} only {rec.coder_a}, {len(rec.only_b)} only "
                f"{rec.coder_b}: stored {len(evs)} consensus event(s) ({args.rule}, unpaired {args.unpaired})"
            )
        else:
            n = export_coding(store, args.session, args.format, args.out, args.coder)
            print(f"wrote {n} event(s) to {args.out}")
    return 0
