"""The one-machine simulation (:func:`simulate`): the very same ServerApp loop (:func:`runner.serve`)
and ClientApp (:mod:`apps`) driven through a :class:`VirtualGrid` on a virtual clock; a dataset given
once is split across the sites by subject (:func:`split_config`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.federated.runner import loop_config, serve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from flwr.app import Message

    from analysis.recognition.task import FeatureSet


def split_config(
    specs: list[str], n_sites: int, views: Iterable[str], classes: str, truth: str | None = None
) -> list[dict]:
    """Node configs for ``n_sites`` simulated sites. One spec given once is split by subject across
    the sites; otherwise each site gets one spec (``--data`` given once per site)."""
    base = {"views": ",".join(views), "classes": classes}
    if truth:
        base["truth"] = truth
    if len(specs) == n_sites and n_sites > 1:
        return [{**base, "site-name": f"site{i + 1}", "data": s} for i, s in enumerate(specs)]
    return [
        {**base, "site-name": f"site{i + 1}", "data": "|".join(specs), "site-index": i, "num-sites": n_sites}
        for i in range(n_sites)
    ]


def simulate(
    specs: list[str],
    n_sites: int,
    speeds: list[float],
    rc: dict,
    *,
    truth: str | None = None,
    tamper: Callable[[int, Message, Message], Message] | None = None,
    outages: dict | None = None,
    on_send: Callable[[str, Message], None] | None = None,
    pooled: bool = True,
    quiet: bool = True,
    test: FeatureSet | None = None,
) -> dict:
    """Run the ServerApp loop and the ClientApp in this process on a virtual clock. ``test``: a
    FeatureSet of subjects no site holds; the final and pooled models are also scored on it
    (``out["test_final"]``, ``out["test_pooled"]``)."""
    from acquisition.errors import DataError
    from analysis.federated import apps
    from analysis.federated.virtual_grid import VirtualClock, VirtualGrid
    from analysis.recognition import task

    views = tuple(v for v in str(rc.get("views", "rgb,depth")).split(",") if v)
    classes = str(rc.get("classes", "3"))
    configs = split_config(specs, n_sites, views, classes, truth)
    sites = []
    for c in configs:  # validated before anything runs
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

    if quiet:  # Flower's own INFO lines (FedAvg's round log)
        import logging

        logging.getLogger("flwr").setLevel(logging.WARNING)
    clock = VirtualClock()
    grid = VirtualGrid(apps.client, configs, speeds, clock, outages=outages, tamper=tamper, on_send=on_send)
    res = serve(grid, rc, clock=clock, central_eval=central, quiet=quiet)
    final = central(res["weights"])
    out = {
        "strategy": res["strategy"],
        "sites": n_sites,
        "virtual_time": res["virtual_time"],
        "updates": res["updates"],
        "final": final,
    }
    if pooled:
        train_all = _concat([s.train for s in sites])
        model = task.new_model(len(held.class_names), views, cfg.seed)
        ep = pooled_epochs(cfg.epochs, res["updates"], n_sites)
        task.train(model, train_all, epochs=ep, lr=cfg.lr, seed=cfg.seed, batch_size=cfg.batch_size)
        m = task.evaluate(model, held)
        out["pooled"] = {"uf1": round(float(m["uf1"]), 4), "uar": round(float(m["uar"]), 4)}
        if test is not None:
            mt = task.evaluate(model, test)
            out["test_pooled"] = {"uf1": round(float(mt["uf1"]), 4), "uar": round(float(mt["uar"]), 4)}
    if test is not None:
        out["test_final"] = central(res["weights"], test)
    out["history"] = res["history"]
    out["per_site"] = [
        {
            "site": c["site-name"],
            "speed": sp,
            "updates": res["sites"].get(c["site-name"], {}).get("updates", 0),
            "uf1": round(float(res["per_site"].get(c["site-name"], {}).get("uf1", float("nan"))), 4),
        }
        for c, sp in zip(configs, speeds)
    ]
    out["bytes_sent"] = res["bytes_up"]
    out["bytes_received"] = res["bytes_down"]
    out["events"] = [e for e in res["events"] if e["kind"] not in ("buffered", "merged")]
    return out


def _concat(parts):
    from analysis.recognition import task

    first = parts[0]
    return task.FeatureSet(
        {v: np.concatenate([p.x[v] for p in parts]) for v in first.views},
        np.concatenate([p.y for p in parts]),
        sum((list(p.subjects) for p in parts), []),
        list(first.class_names),
        tuple(first.views),
    )


def pooled_epochs(epochs: int, updates: int, n_sites: int) -> int:
    """The pooled baseline's passes over all the sites' training data: the same local budget as the
    run's site updates, summed (epochs × updates / sites), at least ``epochs``."""
    return max(epochs, int(round(epochs * max(updates, 1) / n_sites)))
