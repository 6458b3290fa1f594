"""The merge arithmetic of asynchronous federated learning (numpy only, no flwr, no torch).

A site trains from global version ``base`` and sends ``delta = w_local - w_base`` with its sample
count ``n``. Its staleness is ``tau = current_version - base`` and its staleness factor
``s(tau) = (1 + tau) ** -a`` (a = 0.5: 1/sqrt(1+tau), as in FLSim's FedBuff).

* :class:`FedBuff` (Nguyen et al. 2022) buffers K valid updates, then takes one server step with
  ``g = sum_i n_i s(tau_i) delta_i / sum_i n_i`` (sample counts weigh the sites against each other,
  the staleness factor damps stale updates in absolute terms; all fresh: plain FedAvg of the
  deltas): ``m <- beta m + g; x <- x + eta m`` (server learning rate eta, default 0.5:
  :data:`analysis.federated.FEDBUFF_SERVER_LR`; server momentum beta; beta = 0: ``x <- x + eta g``,
  the paper's step). Updates staler than ``tau_max`` are dropped.
  Arrays that are running statistics, not trained parameters (``stats``: BatchNorm's running
  mean/var and batch count, which travel in the model's ``state_dict``), are replaced by the mean of
  the values the sites ended with, ``x_base_i + delta_i``, weighted by ``n_i s(tau_i)``: never
  scaled by eta nor carried on by momentum, which extrapolated the running variances below zero
  (the model then predicted one class); nor added as a delta to a newer version, which with stale
  updates can also go below zero. The server keeps these (small) arrays of the last ``tau_max + 1``
  versions.
* :class:`FedAsync` (Xie et al. 2019) merges each update on arrival:
  ``x <- (1 - alpha_t) x + alpha_t x_new`` with ``x_new = x_base + delta`` and
  ``alpha_t = alpha * s(tau)``; it keeps the last ``tau_max + 1`` versions to rebuild ``x_new``.

Every update is checked before it can touch the model (:func:`check_update`): finite values, the
global model's shapes, a version the server issued and still knows, a positive sample count. A
rejected update is an :class:`Event` with its reason; nothing of it is merged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.federated import FEDBUFF_SERVER_LR

if TYPE_CHECKING:
    from collections.abc import Collection

Weights = list[np.ndarray]


def staleness_weight(tau: int, a: float = 0.5) -> float:
    """s(tau) = (1 + tau) ** -a; 1 for a fresh update."""
    if tau < 0:
        raise ValueError(f"staleness must be >= 0, got {tau}")
    return float((1.0 + tau) ** (-a))


@dataclass
class Update:
    """One site's reply: parameter deltas from global version ``base_version``."""

    site: str
    base_version: int
    delta: Weights
    n: int
    metrics: dict = field(default_factory=dict)


@dataclass
class Event:
    """What happened to one update (or to a site): kept in the run log."""

    kind: str  # "merged" | "buffered" | "rejected" | "dropped-stale" | "site-lost" | ...
    site: str
    version: int  # the global version after the event
    reason: str = ""
    staleness: int | None = None
    weight: float | None = None

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "site": self.site, "version": self.version}
        if self.reason:
            d["reason"] = self.reason
        if self.staleness is not None:
            d["staleness"] = self.staleness
        if self.weight is not None:
            d["weight"] = round(self.weight, 6)
        return d


def check_update(
    u: Update, shapes: list[tuple], current_version: int, known_versions: set[int] | None = None
) -> str | None:
    """The reason this update must not be merged, or None when it may be."""
    if not isinstance(u.base_version, (int, np.integer)) or isinstance(u.base_version, bool):
        return f"version {u.base_version!r} is not a version number"
    if u.base_version > current_version or u.base_version < 0:
        return f"unknown version {u.base_version} (the server is at version {current_version})"
    if known_versions is not None and u.base_version not in known_versions:
        return f"version {u.base_version} is no longer held by the server"
    if not isinstance(u.n, (int, np.integer)) or isinstance(u.n, bool) or u.n <= 0:
        return f"sample count {u.n!r} is not a positive integer"
    if len(u.delta) != len(shapes):
        return f"wrong shape: {len(u.delta)} arrays, the model has {len(shapes)}"
    for i, (arr, shape) in enumerate(zip(u.delta, shapes)):
        if tuple(np.shape(arr)) != tuple(shape):
            return f"wrong shape: array {i} is {tuple(np.shape(arr))}, the model's is {tuple(shape)}"
        if not np.issubdtype(np.asarray(arr).dtype, np.floating):
            return f"array {i} has dtype {np.asarray(arr).dtype}, not floating point"
        if not np.all(np.isfinite(arr)):
            return f"array {i} holds NaN or infinite values"
    return None


class _Base:
    name = "base"

    def __init__(self, weights: Weights, *, a: float = 0.5, tau_max: int = 32, stats: Collection[int] = ()):
        if a < 0:
            raise ValueError("the staleness exponent a must be >= 0")
        if tau_max < 0:
            raise ValueError("tau_max must be >= 0")
        self.x: Weights = [np.array(w, dtype=np.float32, copy=True) for w in weights]
        self.shapes = [w.shape for w in self.x]
        self.stats = frozenset(int(i) for i in stats)  # indices of running statistics (not trained)
        if any(not 0 <= i < len(self.x) for i in self.stats):
            raise ValueError(f"statistics indices {sorted(self.stats)} outside the model's {len(self.x)} arrays")
        self.version = 0
        self.a = a
        self.tau_max = tau_max
        self.events: list[Event] = []
        self.merged_sites: dict[int, list[str]] = {}  # version -> sites whose updates made it

    def weights(self) -> Weights:
        return [w.copy() for w in self.x]

    def _log(self, ev: Event) -> Event:
        self.events.append(ev)
        return ev

    def _screen(self, u: Update, known: set[int] | None = None) -> Event | None:
        reason = check_update(u, self.shapes, self.version, known)
        if reason:
            return self._log(Event("rejected", u.site, self.version, reason))
        tau = self.version - int(u.base_version)
        if tau > self.tau_max:
            return self._log(
                Event("dropped-stale", u.site, self.version, f"staleness {tau} > tau_max {self.tau_max}", staleness=tau)
            )
        return None


class FedBuff(_Base):
    """Buffered asynchronous aggregation: one server step per K valid updates."""

    name = "fedbuff"

    def __init__(
        self,
        weights: Weights,
        *,
        k: int = 3,
        a: float = 0.5,
        tau_max: int = 32,
        server_lr: float = FEDBUFF_SERVER_LR,
        momentum: float = 0.0,
        stats: Collection[int] = (),
    ):
        super().__init__(weights, a=a, tau_max=tau_max, stats=stats)
        if k < 1:
            raise ValueError("the buffer size K must be >= 1")
        if not server_lr > 0:
            raise ValueError("the server learning rate must be > 0")
        if not 0 <= momentum < 1:
            raise ValueError("the server momentum must be in [0, 1)")
        self.k = k
        self.server_lr = server_lr
        self.momentum = momentum
        self.m: Weights | None = None  # server momentum buffer (float64)
        self.buffer: list[tuple[Update, float, int]] = []  # (update, s(tau), tau)
        # the running statistics of the versions an update may still start from (small arrays)
        self._stats_at: dict[int, dict[int, np.ndarray]] = {0: {i: self.x[i].copy() for i in self.stats}}

    def receive(self, u: Update) -> Event:
        bad = self._screen(u)
        if bad:
            return bad
        tau = self.version - int(u.base_version)
        s = staleness_weight(tau, self.a)
        self.buffer.append((u, s, tau))
        if len(self.buffer) < self.k:
            return self._log(Event("buffered", u.site, self.version, staleness=tau, weight=s))
        return self._step(u.site, tau, s)

    def _step(self, site: str, tau: int, s: float) -> Event:
        total_n = float(sum(b[0].n for b in self.buffer))
        step = [np.zeros_like(w, dtype=np.float64) for w in self.x]
        for u, s_i, _ in self.buffer:
            for i, (acc, d) in enumerate(zip(step, u.delta)):
                if i not in self.stats:
                    acc += (u.n * s_i / total_n) * np.asarray(d, dtype=np.float64)
        if self.momentum > 0:
            self.m = step if self.m is None else [self.momentum * m + d for m, d in zip(self.m, step)]
            step = self.m
        self.x = [np.asarray(w + self.server_lr * d, dtype=np.float32) for w, d in zip(self.x, step)]
        # running statistics: the mean of the values the sites ended with (x_base + delta), weighted
        # by n s(tau); a mean of variances is a variance (a delta added to a newer x need not be)
        w_sum = sum(u.n * s_i for u, s_i, _ in self.buffer)
        for i in self.stats:
            self.x[i] = np.asarray(
                sum(
                    (u.n * s_i / w_sum)
                    * (self._stats_at[int(u.base_version)][i].astype(np.float64) + np.asarray(u.delta[i], np.float64))
                    for u, s_i, _ in self.buffer
                ),
                dtype=np.float32,
            )
        self.version += 1
        self.merged_sites[self.version] = [b[0].site for b in self.buffer]
        self.buffer = []
        if self.stats:
            self._stats_at[self.version] = {i: self.x[i].copy() for i in self.stats}
            for v in [v for v in self._stats_at if v < self.version - self.tau_max]:
                del self._stats_at[v]
        return self._log(Event("merged", site, self.version, staleness=tau, weight=s))


class FedAsync(_Base):
    """Merge on arrival with a staleness-damped mixing weight."""

    name = "fedasync"

    def __init__(
        self, weights: Weights, *, alpha: float = 0.5, a: float = 0.5, tau_max: int = 32, stats: Collection[int] = ()
    ):
        # the mix is convex: running statistics (``stats``) need no step of their own
        super().__init__(weights, a=a, tau_max=tau_max, stats=stats)
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.history: dict[int, Weights] = {0: self.weights()}

    def receive(self, u: Update) -> Event:
        bad = self._screen(u, set(self.history))
        if bad:
            return bad
        tau = self.version - int(u.base_version)
        alpha_t = self.alpha * staleness_weight(tau, self.a)
        base = self.history[int(u.base_version)]
        self.x = [
            np.asarray(
                (1.0 - alpha_t) * w.astype(np.float64)
                + alpha_t * (b.astype(np.float64) + np.asarray(d, dtype=np.float64)),
                dtype=np.float32,
            )
            for w, b, d in zip(self.x, base, u.delta)
        ]
        self.version += 1
        self.merged_sites[self.version] = [u.site]
        self.history[self.version] = self.weights()
        for v in [v for v in self.history if v < self.version - self.tau_max]:
            del self.history[v]
        return self._log(Event("merged", u.site, self.version, staleness=tau, weight=alpha_t))


def make_strategy(name: str, weights: Weights, **kw: Any) -> FedBuff | FedAsync:
    """FedBuff or FedAsync by name (FedAvg is Flower's own, run by the server loop)."""
    if name == "fedbuff":
        return FedBuff(
            weights, **{k: v for k, v in kw.items() if k in ("k", "a", "tau_max", "server_lr", "momentum", "stats")}
        )
    if name == "fedasync":
        return FedAsync(weights, **{k: v for k, v in kw.items() if k in ("alpha", "a", "tau_max", "stats")})
    raise ValueError(f"unknown asynchronous strategy {name!r} (fedbuff, fedasync)")


def nbytes(arrays: Weights) -> int:
    return int(sum(np.asarray(a).nbytes for a in arrays))


def is_finite_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
