"""``mexlab protocols list | validate | show | demo-stimuli``: the protocol library and protocol files."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "protocols",
        help="list, check and preview elicitation protocols",
        description="Elicitation protocols: the built-in library, your own protocol files "
        "(see docs/protocols.md), and checking them.",
    )
    ps = p.add_subparsers(dest="action", metavar="ACTION")
    ls = ps.add_parser("list", help="list the built-in protocols and those in your folders")
    ls.set_defaults(func=run_list)
    va = ps.add_parser("validate", help="check protocol files: YAML, fields, conditions tables, stimulus files")
    va.add_argument("protocol", nargs="+", metavar="NAME|FILE")
    va.set_defaults(func=run_validate)
    sh = ps.add_parser("show", help="the run of one participant: group, order of blocks and trials, timings")
    sh.add_argument("protocol", metavar="NAME|FILE")
    sh.add_argument("--participant", required=True, metavar="ID")
    sh.add_argument("--quick", action="store_true", help="as --quick runs it: first trial per block, <= 2 s")
    sh.add_argument("--group", help="this counterbalancing group instead of the one the participant ID gives")
    sh.set_defaults(func=run_show)
    de = ps.add_parser("demo-stimuli", help="make the placeholder clips of the built-in protocols now")
    de.set_defaults(func=run_demo)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from protocols.errors import ProtocolError
    from protocols.library import list_protocols, search_folders
    from protocols.loader import load_protocol

    rows = []
    for e in list_protocols():
        try:
            proto = load_protocol(e.path, check=False)
            title = proto.title
        except ProtocolError as exc:
            title = f"INVALID: {exc}"
        note = f" (hidden by {e.shadowed_by})" if e.shadowed_by else ""
        rows.append((e.name, e.origin, title, f"{e.path}{note}"))
    width = max([len(r[0]) for r in rows] + [4])
    for name, origin, title, path in rows:
        print(f"{name:<{width}}  {origin:<16}  {title}")
        print(f"{'':<{width}}  {'':<16}  {path}")
    print("\nsearched (first match of a name wins):", file=sys.stderr)
    for origin, folder in search_folders():
        exists = "" if folder.is_dir() else "   (does not exist: create it to add your own protocols)"
        print(f"  {origin:<16} {folder}{exists}", file=sys.stderr)
    return 0


def estimate(plan) -> tuple[float, int]:
    """Seconds of timed steps and clips, and how many steps wait for a person."""
    from protocols.media import probe_file

    total, open_steps, seen = 0.0, 0, {}
    for s in plan.steps:
        p = s.params
        if p["advance"] == "video_end":
            f = p["file"]
            if f not in seen:
                seen[f] = probe_file(f, s.source, video=True).get("duration") or 0.0
            total += min(seen[f], p["duration"]) if p["duration"] else seen[f]
        elif p["advance"] == "time":
            total += p["duration"] or 0.0
        else:
            open_steps += 1
    return total, open_steps


def run_validate(args: argparse.Namespace) -> int:
    from protocols.library import find_protocol
    from protocols.loader import load_protocol
    from protocols.plan import build_plan

    for name in args.protocol:
        path = find_protocol(name)
        proto = load_protocol(path)
        groups = [g["id"] for g in proto.groups] or [None]
        parts = []
        for g in groups:
            plan = build_plan(proto, "P1", group=g, shuffle=False)
            secs, open_steps = estimate(plan)
            label = f"group {g}: " if g else ""
            parts.append(
                f"{label}{len(plan.steps)} steps, {secs / 60:.1f} min timed + {open_steps} steps "
                f"waiting for the participant or experimenter"
            )
        print(f"ok: {path}: protocol '{proto.name}', {len(proto.blocks)} blocks; " + "; ".join(parts))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from protocols.library import find_protocol
    from protocols.loader import load_protocol
    from protocols.plan import build_plan

    proto = load_protocol(find_protocol(args.protocol))
    plan = build_plan(proto, args.participant, quick=args.quick, group=args.group)
    print(f"protocol {proto.name} ({proto.path})")
    print(f"participant {plan.participant} (number {plan.number})" + (f", group {plan.group}" if plan.group else ""))
    for s in plan.steps:
        p = s.params
        adv, dur = p["advance"], p["duration"]
        if adv == "time":
            how = f"{dur:g} s"
        elif adv == "video_end":
            how = "to the end of the clip" + (f" (at most {dur:g} s)" if dur else "")
        else:
            how = f"until the {adv} continues"
        if p["advance"] in ("participant", "experimenter") and p["duration"]:
            how += f" (at most {p['duration']:g} s)"
        cond = f" [{s.vars['condition']}]" if "condition" in s.vars else ""
        print(f"  {s.seq + 1:>3}. {s.label()}{cond}: {how}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from protocols.demo_stimuli import demo_folder

    print(demo_folder())
    return 0
