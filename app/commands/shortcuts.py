"""``mexlab shortcuts``: the keyboard shortcuts in force, and the user's own keys (kept in the
settings file; the GUI reads them at its next start)."""

from __future__ import annotations

import json

from acquisition.errors import MexlabError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "shortcuts",
        help="list or change the GUI's keyboard shortcuts",
        description="Shortcuts are data: action id -> keys. Your own keys are stored in the "
        "settings file and replace the defaults from the next start of the GUI.",
    )
    ssub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = ssub.add_parser("list", help="every action with its keys (the default)")
    ls.add_argument("--json", action="store_true")
    st = ssub.add_parser("set", help="give an action other keys, e.g. `set annotate.onset U`")
    st.add_argument("action_id", metavar="ACTION_ID")
    st.add_argument("keys", metavar="KEYS", help="Qt key sequence, e.g. Ctrl+Shift+S, F6, U; '' for none")
    rs = ssub.add_parser("reset", help="back to the default keys (one action, or all with --all)")
    rs.add_argument("action_id", nargs="?", metavar="ACTION_ID")
    rs.add_argument("--all", action="store_true")
    p.set_defaults(func=run, action=None, json=False)


def run(args) -> int:
    from app.gui import shortcuts as sc
    from app.services.settings import Settings

    bad = Settings.problem()
    if bad:  # the GUI starts on defaults; the command says it, and never writes over the file
        raise MexlabError(f"{bad}; fix it or move it away (mexlab keeps it as it is)")
    try:
        if args.action == "set":
            keys = sc.set_user(args.action_id, args.keys)
            print(f"{args.action_id}: {keys or '(no key)'} (from the next start of the GUI)")
        elif args.action == "reset":
            if args.all:
                sc.reset_all()
                print("all shortcuts are back to their defaults")
            elif args.action_id:
                print(f"{args.action_id}: {sc.set_user(args.action_id, None) or '(no key)'} (the default)")
            else:
                raise MexlabError("name an action id, or give --all")
        else:
            keys = sc.in_force()
            if args.json:
                print(json.dumps({"shortcuts": keys, "problems": sc.problems()}, indent=2))
                return 0
            width = max(map(len, keys))
            for aid, k in keys.items():
                own = " (yours)" if k != sc.SHORTCUTS[aid] else ""
                print(f"{aid:<{width}}  {k or '-'}{own}")
    except ValueError as exc:
        raise MexlabError(str(exc)) from None
    for problem in sc.problems():
        print(f"warning: {problem}")
    return 0
