"""The messages between coordinator and sites (flwr records), in one place.

coordinator → site, ``train``: ``arrays`` (the global weights) + ``config`` (version, epochs, lr,
seed, batch-size, clip, noise, model-sig). ``evaluate``: ``arrays`` + ``config`` (version, model-sig).
site → coordinator: ``arrays`` (parameter deltas, train only), ``metrics`` (num-examples, train-loss,
uf1, uar, num-eval, update-norm, version) and ``config`` (site, model-sig, error). ``error`` is a
fixed code (:data:`ERROR_CODES`), never free text: a site's own error messages may name its paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flwr.app import Message, RecordDict

ERROR_CODES = ("no-usable-data", "incompatible-model", "training-failed", "")


def train_content(weights: Iterable[np.ndarray], version: int, cfg: dict) -> RecordDict:
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    conf = {"version": int(version)}
    conf.update({k: v for k, v in cfg.items() if v is not None})
    return RecordDict({"arrays": ArrayRecord([np.asarray(w) for w in weights]), "config": ConfigRecord(conf)})


def reply_content(
    site: str, sig: str, delta: Iterable[np.ndarray] | None = None, metrics: dict | None = None, error: str = ""
) -> RecordDict:
    from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

    assert error in ERROR_CODES, error
    rd = {"config": ConfigRecord({"site": site, "model-sig": sig, "error": error})}
    if delta is not None:
        rd["arrays"] = ArrayRecord([np.asarray(d) for d in delta])
    if metrics is not None:
        rd["metrics"] = MetricRecord(metrics)
    return RecordDict(rd)


def parse_reply(msg: Message) -> dict:
    """A reply as plain values: site, error, sig, delta (list or None), metrics (dict)."""
    c = msg.content
    conf = dict(c["config"]) if "config" in c.config_records else {}
    delta = c["arrays"].to_numpy_ndarrays() if "arrays" in c.array_records else None
    metrics = dict(c["metrics"]) if "metrics" in c.metric_records else {}
    return {
        "site": str(conf.get("site", "?")),
        "error": str(conf.get("error", "")),
        "sig": str(conf.get("model-sig", "")),
        "delta": delta,
        "metrics": metrics,
    }
