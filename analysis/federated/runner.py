"""What the ServerApp runs (:func:`serve`): the strategy's settings from the run config, the initial
model, the chosen strategy's loop and every version recorded. The one-machine simulation that drives
this same loop is :mod:`analysis.federated.simulation`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from analysis.federated.server_loop import LoopConfig, RunLog, bound_reply_pulls, evaluate_everywhere, run_async

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from flwr.serverapp import Grid

    from analysis.federated.server_loop import WallClock
    from analysis.federated.virtual_grid import VirtualClock

STRATEGIES = ("fedbuff", "fedasync", "fedavg")


def loop_config(rc: dict) -> LoopConfig:
    cfg = LoopConfig()
    for key, attr, typ in (
        ("strategy", "strategy", str),
        ("updates", "updates", int),
        ("epochs", "epochs", int),
        ("lr", "lr", float),
        ("k", "k", int),
        ("server-lr", "server_lr", float),
        ("server-momentum", "server_momentum", float),
        ("alpha", "alpha", float),
        ("a", "a", float),
        ("tau-max", "tau_max", int),
        ("seed", "seed", int),
        ("min-sites", "min_sites", int),
        ("wait-sites", "wait_sites_s", float),
        ("deadline", "deadline_s", float),
        ("batch-size", "batch_size", int),
        ("noise", "noise", float),
        ("upload-wait", "upload_wait_s", float),
    ):
        if key in rc and rc[key] != "":
            setattr(cfg, attr, typ(rc[key]))
    if float(rc.get("clip", 0) or 0) > 0:
        cfg.clip = float(rc["clip"])
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r} ({', '.join(STRATEGIES)})")
    return cfg


def _say(line: str) -> None:
    print(f"mexlab fl: {line}", file=sys.stderr, flush=True)


def serve(
    grid: Grid,
    rc: dict,
    *,
    clock: WallClock | VirtualClock | None = None,
    central_eval: Callable[[list[np.ndarray]], dict] | None = None,
    quiet: bool = False,
) -> dict:
    """The coordinator's run: initial model, the chosen strategy, every version recorded."""
    from analysis.datasets import get_scheme
    from analysis.federated import site as site_mod
    from analysis.federated.runrecord import RunRecord
    from analysis.federated.server_loop import WallClock

    cfg = loop_config(rc)
    say = None if quiet else _say
    if not hasattr(grid, "next_arrival"):  # a deployment (not the virtual grid): Flower's HttpGrid
        bound_reply_pulls(cfg.upload_wait_s)  # a site killed mid-upload: a bounded wait, not 180 s
    clock = clock or WallClock()
    classes = str(rc.get("classes", "3"))
    views = tuple(v for v in str(rc.get("views", "rgb,depth")).split(",") if v)
    class_names = list(get_scheme(classes).classes)
    w0 = site_mod.initial_weights(len(class_names), views, cfg.seed)
    sig = site_mod.model_signature(w0, class_names, views)
    stats = site_mod.statistics_indices(len(class_names), views, cfg.seed)  # BatchNorm's running statistics
    rec = RunRecord(
        rc.get("out") or None,
        {
            "strategy": cfg.strategy,
            "classes": classes,
            "views": list(views),
            "class_names": class_names,
            "model_sig": sig,
            "settings": dict(rc),
        },
    )
    log = RunLog()
    history = []

    def on_version(v, weights, strat, t):
        m = central_eval(weights) if central_eval else {}
        history.append({"t": round(t, 3), "version": v, **({"uf1": m["uf1"]} if m else {})})
        rec.version(v, weights, strat, t, m)
        rec.status(log, v, t)

    if cfg.strategy == "fedavg":
        from analysis.federated.fedavg import run_fedavg

        wait_for_sites(grid, cfg, clock)
        final_w = run_fedavg(grid, w0, cfg, sig, on_version=on_version, say=say, log=log, clock=clock)
        final_v = cfg.updates
    else:
        strat, log = run_async(
            grid,
            w0,
            cfg,
            sig,
            clock=clock,
            on_version=on_version,
            say=say,
            log=log,
            on_reply=lambda v, t: rec.status(log, v, t),
            stats=stats,
        )
        final_w, final_v = strat.weights(), strat.version
    per_site = evaluate_everywhere(
        grid, final_w, final_v, sig, skip=log.refused_nodes, late=log.busy_nodes, names=log.node_sites
    )
    summary = {
        "strategy": cfg.strategy,
        "version": final_v,
        "virtual_time": round(clock.now(), 3),
        "updates": log.n_up,
        "history": history,
        "per_site": per_site,
        "bytes_up": log.bytes_up,
        "bytes_down": log.bytes_down,
        "events": log.events,
        "sites": log.sites,
        "weights": final_w,
        "model_sig": sig,
    }
    rec.status(log, final_v, clock.now(), final={"per_site": per_site})
    if say:
        say(
            f"run finished: version {final_v}, {log.n_up} updates received; per site: "
            + ", ".join(f"{s} UF1 {m.get('uf1', float('nan')):.3f}" for s, m in sorted(per_site.items()))
        )
    return summary


def wait_for_sites(grid: Grid, cfg: LoopConfig, clock: WallClock | VirtualClock) -> None:
    t0 = time.monotonic()
    while len(list(grid.get_node_ids())) < cfg.min_sites and time.monotonic() - t0 < cfg.wait_sites_s:
        time.sleep(0.5)
