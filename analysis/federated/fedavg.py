"""The synchronous baseline: Flower's own FedAvg (``flwr.serverapp.strategy.FedAvg``), run with
``FedAvg.start`` on the same Grid, the same ClientApp, local epochs and learning rate.

Sites send parameter deltas (as in the asynchronous strategies), so the subclass adds Flower's
sample-weighted average of the deltas to the round's global weights, after dropping replies that
fail the same checks as the async strategies (NaN/inf, wrong shape, wrong version, refusals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis.federated.protocol import parse_reply
from analysis.federated.strategies import Update, check_update

if TYPE_CHECKING:
    from collections.abc import Callable

    from flwr.serverapp import Grid
    from flwr.serverapp.strategy import FedAvg

    from analysis.federated.server_loop import LoopConfig, RunLog, WallClock
    from analysis.federated.virtual_grid import VirtualClock


def make_fedavg(
    cfg: LoopConfig,
    sig: str,
    shapes: list[tuple[int, ...]],
    say: Callable[[str], None] | None = None,
    log: RunLog | None = None,
    clock: WallClock | VirtualClock | None = None,
) -> FedAvg:
    from flwr.app import ArrayRecord
    from flwr.serverapp.strategy import FedAvg

    class DeltaFedAvg(FedAvg):
        def configure_train(self, server_round, arrays, config, grid):
            self._current = arrays.to_numpy_ndarrays()
            config["version"] = server_round - 1
            msgs = list(super().configure_train(server_round, arrays, config, grid))
            if log is not None:
                log.bytes_down += len(msgs) * int(sum(a.nbytes for a in self._current))
            return msgs

        def configure_evaluate(self, server_round, arrays, config, grid):
            return []  # sites are evaluated once at the end (evaluate_everywhere)

        def aggregate_train(self, server_round, replies):
            good = []
            t = clock.now() if clock else 0.0
            for r in replies:
                if r.has_error():
                    if log is not None:
                        log.event(
                            t,
                            {"kind": "site-lost", "site": "?", "version": server_round - 1, "reason": r.error.reason},
                            say,
                        )
                    continue
                p = parse_reply(r)
                m = p["metrics"]
                reason = p["error"] or ("incompatible model" if p["sig"] != sig else None)
                if not reason:
                    reason = check_update(
                        Update(p["site"], m.get("version", -1), p["delta"] or [], int(m.get("num-examples", 0))),
                        shapes,
                        server_round - 1,
                    )
                if log is not None:
                    st = log.sites.setdefault(p["site"], {"updates": 0, "rejected": 0})
                    st["last_t"] = round(t, 3)
                    st["last_staleness"] = 0
                    if reason:
                        st["rejected"] += 1
                        log.event(
                            t,
                            {"kind": "rejected", "site": p["site"], "version": server_round - 1, "reason": reason},
                            say,
                        )
                    else:
                        st["updates"] += 1
                        log.bytes_up += int(sum(d.nbytes for d in p["delta"]))
                        log.n_up += 1
                if not reason:
                    good.append(r)
            if not good:
                return None, None
            avg, metrics = super().aggregate_train(server_round, good)
            if avg is None:
                return None, metrics
            new = [
                np.asarray(np.asarray(c, np.float64) + np.asarray(d, np.float64), dtype=np.float32)
                for c, d in zip(self._current, avg.to_numpy_ndarrays())
            ]
            if log is not None:
                log.event(
                    t,
                    {"kind": "merged", "site": ",".join(parse_reply(r)["site"] for r in good), "version": server_round},
                    say,
                )
            return ArrayRecord(new), metrics

    return DeltaFedAvg(
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=cfg.min_sites,
        min_available_nodes=cfg.min_sites,
        min_evaluate_nodes=0,
    )


def run_fedavg(
    grid: Grid,
    weights: list[np.ndarray],
    cfg: LoopConfig,
    sig: str,
    *,
    on_version: Callable[..., None] | None = None,
    say: Callable[[str], None] | None = None,
    log: RunLog | None = None,
    clock: WallClock | VirtualClock | None = None,
    timeout: float = 3600.0,
) -> list[np.ndarray]:
    from flwr.app import ArrayRecord, ConfigRecord, MetricRecord

    shapes = [w.shape for w in weights]
    strategy = make_fedavg(cfg, sig, shapes, say=say, log=log, clock=clock)
    conf = {k: v for k, v in cfg.site_config(sig).items() if v is not None}

    class _S:  # what on_version reads from a strategy
        name = "fedavg"
        merged_sites: dict = {}

    def evaluate_fn(server_round, arrays):
        if on_version:
            on_version(server_round, arrays.to_numpy_ndarrays(), _S, clock.now() if clock else 0.0)
        return MetricRecord({})

    result = strategy.start(
        grid,
        ArrayRecord([np.asarray(w) for w in weights]),
        num_rounds=cfg.updates,
        timeout=timeout,
        train_config=ConfigRecord(conf),
        evaluate_fn=evaluate_fn,
    )
    return result.arrays.to_numpy_ndarrays() if result.arrays is not None else list(weights)
