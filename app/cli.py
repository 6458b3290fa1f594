"""The ``mexlab`` command line: a thin shell over acquisition/, analysis/ and protocols/.

Every command is a function ``run(args) -> int`` in ``app.commands``; this module builds the parser
and turns user-facing errors (:class:`acquisition.errors.MexlabError`) into one line on stderr and a
non-zero exit code, never a traceback.

Start-up stays light: building the parser imports every module in app/commands, so those modules
import at their top only what ``add_parser`` needs (argparse, the standard library, numpy at most);
each ``run`` imports the heavy parts it uses (Qt, OpenCV, MediaPipe, torch, pandas, SQLAlchemy …).
tests/app/test_cli.py checks that ``mexlab --help``, ``--version`` and the light commands import none of
them; bench/cli_startup.py measures the time.
"""

from __future__ import annotations

import argparse
import sys

from acquisition.errors import MexlabError


def command_names() -> list[str]:
    """The modules in app/commands (not yet imported), in ORDER, then by name."""
    import pkgutil

    import app.commands as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    order = {n: i for i, n in enumerate(ORDER)}
    names.sort(key=lambda n: (order.get(n, len(ORDER)), n))
    return names


def command_modules(only: str | None = None) -> list:
    """Every module in app/commands with an ``add_parser`` is a command (in ORDER, then by name).

    ``only``: the module of the command about to run (``run-protocol`` is app/commands/run_protocol.py),
    so that ``mexlab protocols list`` imports one command module, not all of them."""
    import importlib

    names = command_names()
    if only is not None:
        names = [n for n in names if n == only]
    mods = []
    for n in names:
        try:
            mods.append(importlib.import_module(f"app.commands.{n}"))
        except ImportError as exc:  # one broken command must not take the others down
            BROKEN_COMMANDS[n] = str(exc)
    return [m for m in mods if hasattr(m, "add_parser")]


BROKEN_COMMANDS: dict[str, str] = {}  # tests/app/test_cli.py asserts this stays empty


ORDER = ("gui", "record", "check", "sessions", "devices", "rig")


def version() -> str:
    """The installed mexlab's version (``mexlab --version``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("mexlab")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mexlab",
        description="mexlab: record, code and analyse micro-expressions with RGB-D video, EMG and physiology.",
    )
    parser.add_argument("--version", action="version", version=f"mexlab {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules(only):
        module.add_parser(sub)
    parser.set_defaults(command_names_known=tuple(sub.choices))
    return parser


def _command_module(argv: list[str]) -> str | None:
    """The module name of the command ``argv`` starts with, when it names one (else None: all)."""
    if not argv or argv[0].startswith("-"):
        return None
    name = argv[0].replace("-", "_")
    return name if not name.startswith("_") and name in command_names() else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["gui"]  # `mexlab` alone starts the desktop application
    if argv == ["--version"]:  # without importing a single command module
        print(f"mexlab {version()}")
        return 0
    only = _command_module(argv)
    parser = build_parser(only)
    if only is not None and argv[0] not in parser.get_default("command_names_known"):
        parser = build_parser()  # a module whose command has another name: parse with them all
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
