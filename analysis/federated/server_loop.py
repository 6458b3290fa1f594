"""The coordinator's asynchronous loop on Flower's Grid API (push_messages / pull_messages).

Every site with no work gets the current global version at once; each reply is checked and merged
on arrival (FedAsync) or buffered (FedBuff); the site that replied gets the newest version straight
away. A site that vanishes (Flower answers its message with an error), comes back under a new node
id, sends a bad update or runs slow never stops the run: the event is logged with its reason.
Works on a real deployment Grid and on :class:`analysis.federated.virtual_grid.VirtualGrid`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.federated import FEDBUFF_SERVER_LR
from analysis.federated.protocol import parse_reply, train_content
from analysis.federated.strategies import Event, Update, make_strategy

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from flwr.serverapp import Grid

    from analysis.federated.strategies import FedAsync, FedBuff
    from analysis.federated.virtual_grid import VirtualClock


@dataclass
class LoopConfig:
    strategy: str = "fedbuff"
    updates: int = 30  # accepted site updates (async) / rounds (fedavg)
    epochs: int = 2
    lr: float = 3e-3
    batch_size: int = 32
    k: int = 3
    server_lr: float = FEDBUFF_SERVER_LR
    server_momentum: float = 0.0
    alpha: float = 0.5
    a: float = 0.5
    tau_max: int = 32
    clip: float | None = None
    noise: float = 0.0
    seed: int = 0
    min_sites: int = 1
    wait_sites_s: float = 60.0
    deadline_s: float = 3600.0
    site_backoff_s: float = 5.0
    upload_wait_s: float = 60.0  # Flower's wait for a reply's arrays (bound_reply_pulls); then: site lost

    def site_config(self, sig: str) -> dict:
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch-size": self.batch_size,
            "seed": self.seed,
            "clip": self.clip,
            "noise": self.noise,
            "model-sig": sig,
        }


#: how often the ServerApp asks the SuperLink for its sites and replies (each time two HTTP requests,
#: a few ms of the SuperLink's CPU each): 0.5 s adds 0.15 s on average to a reply's merge
WALL_POLL_S = 0.5


class WallClock:
    def __init__(self, poll_s: float = WALL_POLL_S):
        self.t0 = time.monotonic()
        self.poll_s = poll_s

    def now(self) -> float:
        return time.monotonic() - self.t0

    def idle(self, grid: Grid) -> None:
        time.sleep(self.poll_s)


def bound_reply_pulls(max_time_s: float) -> bool:
    """Bound how long Flower waits for a reply's arrays; True when the bound is in place.

    Flower 1.41's ``HttpGrid.pull_messages`` (``flwr/superlink/grid/http_grid.py``) hands out a
    reply as soon as its metadata is at the SuperLink, then pulls the reply's arrays with
    ``pull_objects``, retrying up to ``max_time`` = ``PULL_MAX_TIME`` (7200 s). A site killed while
    uploading them left that call, and the coordinator's loop, retrying until the SuperLink dropped
    the site's upload session (``OBJECT_PUSH_SESSION_TTL_SECONDS``, 180 s). A message's TTL does
    not help: it bounds the wait for a reply's metadata, not for its arrays. ``HttpGrid`` passes no
    ``max_time``; this sets it (in this process: the ServerApp's) to ``max_time_s``. Past it,
    Flower's own ``pull_messages`` turns that one reply into an error message ("Reply message
    objects are unavailable") and still returns the other replies of the same pull; the loop logs
    the site lost. Threads pulling each message on their own were tried instead: the SuperLink's
    SQLite state answered the concurrent requests with "database is locked" (HTTP 500)."""
    try:
        from flwr.superlink.grid import http_grid
    except ImportError:
        return False
    flower_pull = getattr(http_grid, "pull_objects", None)
    if flower_pull is None:
        return False
    flower_pull = getattr(flower_pull, "__wrapped__", flower_pull)

    def pull_objects(*args, **kwargs):
        kwargs.setdefault("max_time", max_time_s)
        return flower_pull(*args, **kwargs)

    pull_objects.__wrapped__ = flower_pull
    pull_objects.max_time_s = max_time_s
    http_grid.pull_objects = pull_objects
    return True


@dataclass
class RunLog:
    events: list = field(default_factory=list)
    sites: dict = field(default_factory=dict)  # site -> {"updates", "last_t", "last_staleness", ...}
    bytes_down: int = 0
    bytes_up: int = 0
    n_up: int = 0
    site_scores: dict = field(default_factory=dict)  # version -> [(uf1, uar, n)] the sites measured
    refused_nodes: set = field(default_factory=set)  # nodes refused (bad model, no data): not asked again
    busy_nodes: set = field(default_factory=set)  # nodes still training when the loop ended
    node_sites: dict = field(default_factory=dict)  # node → the site name it reported

    def scored(self) -> dict:
        """The newest version the sites have scored: sample-weighted UF1/UAR of their held-out sets."""
        if not self.site_scores:
            return {}
        v = max(self.site_scores)
        rows = self.site_scores[v]
        n = sum(r[2] for r in rows) or 1
        return {
            "version": v,
            "uf1": round(sum(r[0] * r[2] for r in rows) / n, 4),
            "uar": round(sum(r[1] * r[2] for r in rows) / n, 4),
            "sites_reporting": len(rows),
        }

    def event(self, t: float, ev: Event | dict, say: Callable[[str], None] | None = None) -> None:
        d = ev.as_dict() if isinstance(ev, Event) else dict(ev)
        d["t"] = round(float(t), 3)
        self.events.append(d)
        if say and d["kind"] not in ("buffered",):
            say(_describe(d))


def _describe(d: dict) -> str:
    s = f"[t={d['t']:.1f}] {d['kind']}: site {d.get('site', '?')}, version {d.get('version', '?')}"
    if "staleness" in d:
        s += f", staleness {d['staleness']}"
    if d.get("reason"):
        s += f" ({d['reason']})"
    return s


def _nbytes(arrs) -> int:
    return int(sum(np.asarray(a).nbytes for a in arrs))


def run_async(
    grid: Grid,
    weights: list[np.ndarray],
    cfg: LoopConfig,
    sig: str,
    *,
    clock: WallClock | VirtualClock | None = None,
    on_version: Callable[..., None] | None = None,
    say: Callable[[str], None] | None = None,
    log: RunLog | None = None,
    on_reply: Callable[[int, float], None] | None = None,
    stats: Collection[int] = (),
) -> tuple[FedBuff | FedAsync, RunLog]:
    """Run FedBuff / FedAsync until ``cfg.updates`` updates were accepted (or the deadline).
    ``on_version(version, weights, strategy, clock_t)`` is called for every new global version.
    ``stats``: indices of the arrays that are running statistics (averaged, never extrapolated)."""
    from flwr.app import Message

    clock = clock or WallClock()
    log = log or RunLog()
    strat = make_strategy(
        cfg.strategy,
        weights,
        k=cfg.k,
        a=cfg.a,
        tau_max=cfg.tau_max,
        alpha=cfg.alpha,
        server_lr=cfg.server_lr,
        momentum=cfg.server_momentum,
        stats=stats,
    )
    if on_version:
        on_version(0, strat.weights(), strat, clock.now())
    pending: dict[str, tuple[int, int]] = {}  # message id -> (node, version sent)
    busy: set[int] = set()
    banned: dict[int, str] = {}
    backoff: dict[int, float] = {}
    node_site: dict[int, str] = {}
    known_nodes: set[int] = set()
    accepted = 0
    started = False
    while accepted < cfg.updates and clock.now() < cfg.deadline_s:
        nodes = set(grid.get_node_ids())
        for n in sorted(nodes - known_nodes):
            log.event(clock.now(), {"kind": "site-joined", "site": f"node {n}", "version": strat.version}, say)
        for n in sorted(known_nodes - nodes):
            log.event(
                clock.now(),
                {
                    "kind": "site-left",
                    "site": node_site.get(n, f"node {n}"),
                    "version": strat.version,
                    "reason": "no longer connected to the coordinator",
                },
                say,
            )
        known_nodes = nodes
        if not started:
            if len(nodes) < cfg.min_sites and clock.now() < cfg.wait_sites_s:
                clock.idle(grid)
                continue
            if not nodes:
                raise RuntimeError(f"no site joined within {cfg.wait_sites_s:.0f} s")
            started = True
        now = clock.now()
        free = [n for n in sorted(nodes) if n not in busy and n not in banned and backoff.get(n, -1) <= now]
        if free:
            w = strat.weights()
            content_cfg = cfg.site_config(sig)
            msgs = [
                Message(train_content(w, strat.version, content_cfg), dst_node_id=n, message_type="train") for n in free
            ]
            ids = list(grid.push_messages(msgs))
            for n, mid in zip(free, ids):
                if mid:
                    pending[mid] = (n, strat.version)
                    busy.add(n)
                    log.bytes_down += _nbytes(w)
        replies = list(grid.pull_messages(list(pending))) if pending else []
        for r in replies:
            mid = r.metadata.reply_to_message_id
            if mid not in pending:
                continue
            node, v_sent = pending.pop(mid)
            busy.discard(node)
            site = node_site.get(node, f"node {node}")
            if r.has_error():
                backoff[node] = clock.now() + cfg.site_backoff_s
                log.event(
                    clock.now(),
                    {
                        "kind": "site-lost",
                        "site": site,
                        "version": strat.version,
                        "reason": f"its update for version {v_sent} did not come: {r.error.reason}"
                        + (
                            f" (not waited for more than {cfg.upload_wait_s:.0f} s)"
                            if "objects are unavailable" in str(r.error.reason)
                            else ""
                        ),
                    },
                    say,
                )
                continue
            p = parse_reply(r)
            site = node_site[node] = p["site"]
            if p["error"]:
                banned[node] = p["error"]
                log.event(
                    clock.now(),
                    {"kind": "site-refused", "site": site, "version": strat.version, "reason": p["error"]},
                    say,
                )
                continue
            if p["sig"] != sig:
                banned[node] = "incompatible-model"
                log.event(
                    clock.now(),
                    {
                        "kind": "rejected",
                        "site": site,
                        "version": strat.version,
                        "reason": f"incompatible model (site {p['sig']}, coordinator {sig})",
                    },
                    say,
                )
                continue
            log.bytes_up += _nbytes(p["delta"] or [])
            log.n_up += 1
            m = p["metrics"]
            base = m.get("version", v_sent)
            if isinstance(base, (int, np.integer)) and 0 <= base <= strat.version and "uf1" in m:
                log.site_scores.setdefault(int(base), []).append(
                    (float(m["uf1"]), float(m.get("uar", 0.0)), int(m.get("num-eval", 1)))
                )
            u = Update(
                site,
                int(base) if isinstance(base, (int, np.integer)) else base,
                p["delta"] or [],
                int(m.get("num-examples", 0)),
                m,
            )
            before = strat.version
            ev = strat.receive(u)
            log.event(clock.now(), ev, say)
            st = log.sites.setdefault(site, {"updates": 0, "rejected": 0})
            st["last_t"] = round(clock.now(), 3)
            st["last_staleness"] = ev.staleness
            st["site_uf1_of_version"] = [int(base) if isinstance(base, (int, np.integer)) else -1, m.get("uf1")]
            if ev.kind in ("merged", "buffered"):
                accepted += 1
                st["updates"] += 1
            else:
                st["rejected"] += 1
            if strat.version != before and on_version:
                on_version(strat.version, strat.weights(), strat, clock.now())
            elif on_reply:
                on_reply(strat.version, clock.now())
        if not replies:
            clock.idle(grid)
    log.refused_nodes |= set(banned)
    log.busy_nodes = {node for node, _ in pending.values()}
    log.node_sites.update(node_site)
    for _mid, (node, v) in pending.items():  # still out at the end: not waited for
        log.event(
            clock.now(),
            {
                "kind": "not-waited",
                "site": node_site.get(node, f"node {node}"),
                "version": strat.version,
                "reason": f"still training on version {v} when the run ended",
            },
            None,
        )
    return strat, log


def evaluate_everywhere(
    grid: Grid,
    weights: list[np.ndarray],
    version: int,
    sig: str,
    timeout: float = 120.0,
    *,
    skip: Collection[int] = (),
    late: Collection[int] = (),
    grace: float = 15.0,
    names: Mapping[int, str] | None = None,
) -> dict:
    """Each site's own held-out scores for ``weights`` (site name → metrics). Refused nodes
    (``skip``) are not asked. A site that was still training when the run ended (``late``; its
    evaluation queues behind that update, and it may be a site that vanished and that Flower has not
    yet missed) gets ``grace`` seconds more once every other site has answered; ``timeout`` bounds
    the whole. ``names``: the site name each node reported; a node whose site has already answered
    through another node (a site pulled out and started again joins as a new node, and Flower
    misses the old one only ~60 s after its last heartbeat) is not waited for: its answer would
    be the same site's, on the same data and weights."""
    from flwr.app import Message

    nodes = [n for n in sorted(grid.get_node_ids()) if n not in set(skip)]
    msgs = [
        Message(train_content(weights, version, {"model-sig": sig}), dst_node_id=n, message_type="evaluate")
        for n in nodes
    ]
    ids = {mid: n for mid, n in zip(grid.push_messages(msgs), nodes) if mid}
    out, t0, t_rest = {}, time.monotonic(), None
    names = names or {}
    while ids and time.monotonic() - t0 < timeout:
        for r in grid.pull_messages(list(ids)):
            ids.pop(r.metadata.reply_to_message_id, None)
            if r.has_error():
                continue
            p = parse_reply(r)
            if not p["error"]:
                out[p["site"]] = p["metrics"]
        for mid in [m for m, n in ids.items() if names.get(n) in out]:
            del ids[mid]
        if ids and not set(ids.values()) - set(late):  # only late sites left
            t_rest = t_rest or time.monotonic()
            if time.monotonic() - t_rest > grace:
                break
        if ids:
            nxt = getattr(grid, "next_arrival", None)  # the virtual grid: jump the clock
            if nxt is not None:
                t = nxt()
                if t is None:
                    break
                grid.clock.t = max(grid.clock.t, t)
            else:
                time.sleep(WALL_POLL_S)
    return out
