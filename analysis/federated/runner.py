"""What the ServerApp runs (:func:`serve`) and the one-machine simulation (:func:`simulate`), which
drives the very same ServerApp loop and ClientApp through a :class:`VirtualGrid`."""

from __future__ import annotations

import sys
import time

import numpy as np

from analysis.federated.server_loop import LoopConfig, RunLog, evaluate_everywhere, run_async

STRATEGIES = ("fedbuff", "fedasync", "fedavg")


def loop_config(rc: dict) -> LoopConfig:
    cfg = LoopConfig()
    for key, attr, typ in (("strategy", "strategy", str), ("updates", "updates", int),
                           ("epochs", "epochs", int), ("lr", "lr", float), ("k", "k", int), ("server-lr", "server_lr", float),
                           ("server-momentum", "server_momentum", float),
                           ("alpha", "alpha", float), ("a", "a", float), ("tau-max", "tau_max", int),
                           ("seed", "seed", int), ("min-sites", "min_sites", int),
                           ("wait-sites", "wait_sites_s", float), ("deadline", "deadline_s", float),
                           ("batch-size", "batch_size", int), ("noise", "noise", float)):
        if key in rc and rc[key] != "":
            setattr(cfg, attr, typ(rc[key]))
    if float(rc.get("clip", 0) or 0) > 0:
        cfg.clip = float(rc["clip"])
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r} ({', '.join(STRATEGIES)})")
    return cfg


def _say(line: str) -> None:
    print(f"mexlab fl: {line}", file=sys.stderr, flush=True)


def serve(grid, rc: dict, *, clock=None, central_eval=None, quiet: bool = False) -> dict:
    """The coordinator's run: initial model, the chosen strategy, every version recorded."""
    from analysis.datasets import get_scheme
    from analysis.federated import site as site_mod
    from analysis.federated.runrecord import RunRecord
    from analysis.federated.server_loop import WallClock

    cfg = loop_config(rc)
    say = None if quiet else _say
    clock = clock or WallClock()
    classes = str(rc.get("classes", "3"))
    views = tuple(v for v in str(rc.get("views", "rgb,depth")).split(",") if v)
    class_names = list(get_scheme(classes).classes)
    w0 = site_mod.initial_weights(len(class_names), views, cfg.seed)
    sig = site_mod.model_signature(w0, class_names, views)
    rec = RunRecord(rc.get("out") or None, {"strategy": cfg.strategy, "classes": classes,
                                             "views": list(views), "class_names": class_names,
                                             "model_sig": sig, "settings": dict(rc)})
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
        strat, log = run_async(grid, w0, cfg, sig, clock=clock, on_version=on_version, say=say, log=log,
                               on_reply=lambda v, t: rec.status(log, v, t))
        final_w, final_v = strat.weights(), strat.version
    per_site = evaluate_everywhere(grid, final_w, final_v, sig, skip=log.refused_nodes, late=log.busy_nodes)
    summary = {"strategy": cfg.strategy, "version": final_v, "virtual_time": round(clock.now(), 3),
               "updates": log.n_up, "history": history, "per_site": per_site,
               "bytes_up": log.bytes_up, "bytes_down": log.bytes_down,
               "events": log.events, "sites": log.sites, "weights": final_w, "model_sig": sig}
    rec.status(log, final_v, clock.now(), final={"per_site": per_site})
    if say:
        say(f"run finished: version {final_v}, {log.n_up} updates received; per site: "
            + ", ".join(f"{s} UF1 {m.get('uf1', float('nan')):.3f}" for s, m in sorted(per_site.items())))
    return summary


def wait_for_sites(grid, cfg: LoopConfig, clock) -> None:
    t0 = time.monotonic()
    while len(list(grid.get_node_ids())) < cfg.min_sites and time.monotonic() - t0 < cfg.wait_sites_s:
        time.sleep(0.5)


def split_config(specs: list[str], n_sites: int, views, classes: str, truth=None) -> list[dict]:
    """Node configs for ``n_sites`` simulated sites. One spec given once is split by subject across
    the sites; otherwise each site gets one spec (``--data`` given once per site)."""
    base = {"views": ",".join(views), "classes": classes}
    if truth:
        base["truth"] = truth
    if len(specs) == n_sites and n_sites > 1:
        return [{**base, "site-name": f"site{i + 1}", "data": s} for i, s in enumerate(specs)]
    return [{**base, "site-name": f"site{i + 1}", "data": "|".join(specs), "site-index": i,
             "num-sites": n_sites} for i in range(n_sites)]


def simulate(specs: list[str], n_sites: int, speeds: list[float], rc: dict, *, truth=None,
             tamper=None, outages=None, on_send=None, pooled: bool = True, quiet: bool = True,
             test=None) -> dict:
    """Run the ServerApp loop and the ClientApp in this process on a virtual clock. ``test``: a
    FeatureSet of subjects no site holds; the final and pooled models are also scored on it
    (``out["test_final"]``, ``out["test_pooled"]``)."""
    from acquisition.errors import DataError
    from analysis.federated import apps
    from analysis.federated import site as site_mod
    from analysis.federated.virtual_grid import VirtualClock, VirtualGrid
    from analysis.recognition import task

    views = tuple(v for v in str(rc.get("views", "rgb,depth")).split(",") if v)
    classes = str(rc.get("classes", "3"))
    configs = split_config(specs, n_sites, views, classes, truth)
    sites = []
    for c in configs:                          # validated before anything runs
        name, sd = apps.node_site(c)
        if isinstance(sd, str):
            raise DataError(sd.partition(": ")[2] or sd)
        sites.append(sd)
    held = _concat([s.held for s in sites])
    cfg = loop_config(rc)

    def central(weights, on=None):
        model = task.new_model(len(held.class_names), views, cfg.seed)
        task.set_weights(model, weights)
        m = task.evaluate(model, held if on is None else on)
        return {"uf1": round(float(m["uf1"]), 4), "uar": round(float(m["uar"]), 4)}

    if quiet:                                   # Flower's own INFO lines (FedAvg's round log)
        import logging
        logging.getLogger("flwr").setLevel(logging.WARNING)
    clock = VirtualClock()
    grid = VirtualGrid(apps.client, configs, speeds, clock, outages=outages, tamper=tamper, on_send=on_send)
    res = serve(grid, rc, clock=clock, central_eval=central, quiet=quiet)
    final = central(res["weights"])
    out = {"strategy": res["strategy"], "sites": n_sites, "virtual_time": res["virtual_time"],
           "updates": res["updates"], "final": final}
    if pooled:
        train_all = _concat([s.train for s in sites])
        model = task.new_model(len(held.class_names), views, cfg.seed)
        # the same local budget as one site's updates, summed: epochs × (updates / sites) passes
        ep = max(cfg.epochs, int(round(cfg.epochs * max(res["updates"], 1) / n_sites)))
        task.train(model, train_all, epochs=ep, lr=cfg.lr, seed=cfg.seed, batch_size=cfg.batch_size)
        m = task.evaluate(model, held)
        out["pooled"] = {"uf1": round(float(m["uf1"]), 4), "uar": round(float(m["uar"]), 4)}
        if test is not None:
            mt = task.evaluate(model, test)
            out["test_pooled"] = {"uf1": round(float(mt["uf1"]), 4), "uar": round(float(mt["uar"]), 4)}
    if test is not None:
        out["test_final"] = central(res["weights"], test)
    out["history"] = res["history"]
    out["per_site"] = [{"site": c["site-name"], "speed": sp,
                        "updates": res["sites"].get(c["site-name"], {}).get("updates", 0),
                        "uf1": round(float(res["per_site"].get(c["site-name"], {}).get("uf1", float("nan"))), 4)}
                       for c, sp in zip(configs, speeds)]
    out["bytes_sent"] = res["bytes_up"]
    out["bytes_received"] = res["bytes_down"]
    out["events"] = [e for e in res["events"] if e["kind"] not in ("buffered", "merged")]
    return out


def _concat(parts):
    from analysis.recognition import task

    first = parts[0]
    return task.FeatureSet({v: np.concatenate([p.x[v] for p in parts]) for v in first.views},
                           np.concatenate([p.y for p in parts]), sum((list(p.subjects) for p in parts), []),
                           list(first.class_names), tuple(first.views))
