"""mexlab's lighter launchers of Flower's `flwr-clientapp` and `flower-superexec` (real Flower 1.41:
its own argument parsers answer), and the final evaluation not waiting for a site's vanished node
once the same site has answered through its new node (docs/federated.md, "Where the deployment
test's time goes")."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from analysis.federated import launchers, site, synthetic
from tests.helpers_paths import REPO


def _env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the launcher finds mexlab by itself
    return env


@pytest.mark.parametrize("name", sorted(launchers.ENTRIES))
def test_a_launcher_runs_flowers_own_command(tmp_path, name):
    folder = launchers.write(tmp_path / "bin")
    script = folder / name
    assert os.access(script, os.X_OK)
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: {name} ") and "--runtime-api-address" in r.stdout, r.stdout


def test_the_launchers_skip_the_other_entry_points_and_fall_back_on_another_layout():
    code = (
        "import sys\n"
        "from analysis.federated import launchers\n"
        "f = launchers.entry('flwr-clientapp'); g = launchers.entry('flower-superexec')\n"
        "print(f.__module__, g.__module__)\n"
        "print('flwr.supernode.cli.flower_supernode' in sys.modules, 'sqlalchemy' in sys.modules)\n"
        # a package without that module: Flower's own import of the package is used instead
        "assert 'dbm' not in sys.modules\n"
        "launchers.ENTRIES['x'] = ('dbm', 'no_such_module', 'open')\n"
        "h = launchers.entry('x'); import dbm\n"
        "print(h is dbm.open, sys.modules['dbm'] is dbm and hasattr(dbm, 'whichdb'))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [
        "flwr.supernode.cli.flwr_clientapp",
        "flwr.supercore.cli.flower_superexec",
        "False",
        "False",
        "True",
        "True",
    ], r.stdout


@pytest.mark.learning
def test_the_final_evaluation_does_not_wait_for_a_sites_vanished_node(tmp_path):
    """A site pulled out mid-update and started again is a new node with the same site name; Flower
    misses the old node only ~60 s after its last heartbeat. Once the site has answered through its
    new node, the old node's evaluation (same site, same data and weights) is not waited for."""
    from analysis.federated import apps
    from analysis.federated.server_loop import evaluate_everywhere
    from analysis.federated.virtual_grid import VirtualClock, VirtualGrid

    p = tmp_path / "lab0.npz"
    site.save_features(p, synthetic.make(3, per_subject=6, seed=20, prefix="p0x"))
    conf = {"site-name": "lab0", "data": f"features:{p}", "views": "rgb,depth", "classes": "3"}

    class Vanished(VirtualGrid):
        """Replies come at once (wall clock); node 1000's never do: it was killed."""

        next_arrival = None

        def pull_messages(self, message_ids):
            self.clock.t = 1e9
            return [r for r in super().pull_messages(message_ids) if r.metadata.src_node_id != 1000]

    grid = Vanished(apps.client, [conf, conf], [1.0, 1.0], VirtualClock())
    _, sd = apps.node_site(conf)
    w = site.initial_weights(len(sd.class_names), sd.views)
    sig = site.model_signature(w, sd.class_names, sd.views)
    old, new = 1000, 1001
    t0 = time.monotonic()
    out = evaluate_everywhere(grid, w, 3, sig, late={old}, grace=60, names={old: "lab0", new: "lab0"})
    assert set(out) == {"lab0"} and out["lab0"]["version"] == 3
    assert time.monotonic() - t0 < 30  # not the 60 s grace
    # without the names, the old node is waited for (the grace, shortened here)
    t0 = time.monotonic()
    out = evaluate_everywhere(grid, w, 3, sig, late={old}, grace=2)
    assert set(out) == {"lab0"} and time.monotonic() - t0 >= 2
