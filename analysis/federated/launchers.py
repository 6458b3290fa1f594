"""Lighter launchers for two helper processes Flower 1.41 starts by name: ``flwr-clientapp`` (one
per message a site gets) and ``flower-superexec`` (one per SuperNode and one per SuperLink).

Flower's console scripts import their entry point from a package whose ``__init__`` imports every
entry point of that package: ``flwr-clientapp`` (``flwr.supernode.cli:flwr_clientapp``) also loads
``flower_supernode`` with its SQL state stores (SQLAlchemy, Alembic); ``flower-superexec``
(``flwr.supercore.cli:flower_superexec``) also loads the agent, model and connector commands.
Measured here: 2.7 vs 1.6 CPU-s per ``flwr-clientapp`` start, 2.0-2.4 vs 1.0-1.2 per
``flower-superexec`` (docs/federated.md, "Where the deployment test's time goes").

A launcher imports the same entry-point module without running its package's ``__init__`` and
calls the same function, so the process does what Flower's own script does; if that import fails
(another Flower layout) it falls back to Flower's own import. ``mexlab fl site`` and ``mexlab fl
coordinator`` write the launchers into their private folder and put it first on the PATH of the
SuperNode / SuperLink they start (``deploy.flower_env``), which is where Flower looks them up.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

#: command name → (package, module in it, function): Flower 1.41's console-script entry points
ENTRIES = {
    "flwr-clientapp": ("flwr.supernode.cli", "flwr_clientapp", "flwr_clientapp"),
    "flower-superexec": ("flwr.supercore.cli", "flower_superexec", "flower_superexec"),
}


def entry(name: str) -> Callable[[], object]:
    """The entry-point function of Flower's command ``name``, imported without its package's
    ``__init__`` (or, if that fails, the way Flower's own script imports it)."""
    pkg, mod, fn = ENTRIES[name]
    stub = None
    try:
        if pkg not in sys.modules:
            spec = importlib.util.find_spec(pkg)  # imports the parent packages, not this one
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"{pkg} is not a package")
            stub = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run
            sys.modules[pkg] = stub
            parent, _, child = pkg.rpartition(".")
            setattr(sys.modules[parent], child, stub)
        return getattr(importlib.import_module(f"{pkg}.{mod}"), fn)
    except Exception:  # noqa: BLE001 - any other layout: Flower's own import
        if stub is not None and sys.modules.get(pkg) is stub:
            del sys.modules[pkg]
        return getattr(importlib.import_module(pkg), fn)


def run(name: str) -> object:
    """Run Flower's command ``name`` in this process (what its console script does)."""
    return entry(name)()  # argv[0] is the launcher's path, named as Flower's command


def write(folder: Path) -> Path:
    """Write the launchers into ``folder`` (created; executable scripts named as Flower's commands,
    run by this Python) and return it: put it first on the PATH of the process that starts them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parents[2])
    for name in ENTRIES:
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(
            f"#!{sys.executable}\n"
            f'"""Flower\'s {name}, launched by mexlab (analysis/federated/launchers.py)."""\n'
            "import sys\n\n"
            f"if {root!r} not in sys.path:\n"
            f"    sys.path.append({root!r})\n"
            "from analysis.federated.launchers import run\n\n"
            f"sys.exit(run({name!r}))\n"
        )
        tmp.chmod(0o755)
        os.replace(tmp, path)
    return folder
