"""The ``mexlab`` command line: a thin shell over acquisition/, analysis/ and protocols/.

Every command is a function ``run(args) -> int`` in ``app.commands``; this module builds the parser
and turns user-facing errors (:class:`acquisition.errors.MexlabError`) into one line on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from acquisition.errors import MexlabError


def command_modules() -> list:
    """Every module in app/commands with an ``add_parser`` is a command (in ORDER, then by name)."""
    import importlib
    import pkgutil

    import app.commands as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    order = {n: i for i, n in enumerate(ORDER)}
    names.sort(key=lambda n: (order.get(n, len(ORDER)), n))
    mods = []
    for n in names:
        try:
            mods.append(importlib.import_module(f"app.commands.{n}"))
        except ImportError as exc:  # one broken command must not take the others down
            BROKEN_COMMANDS[n] = str(exc)
    return [m for m in mods if hasattr(m, "add_parser")]


BROKEN_COMMANDS: dict[str, str] = {}  # tests/test_cli.py asserts this stays empty


ORDER = ("gui", "record", "check", "sessions", "devices", "rig")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mexlab",
        description="mexlab: record, code and analyse micro-expressions with RGB-D video, EMG and physiology.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["gui"]  # `mexlab` alone starts the desktop application
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MexlabError as exc:
        print(f"mexlab {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"mexlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
