"""An in-process Flower Grid on a virtual clock: the same ServerApp loop and ClientApp, one machine.

``push_messages`` runs the ClientApp on the message at once (``ClientApp.__call__`` with the site's
node config) and files the reply to arrive at ``now + cost``: cost = the site's speed factor ×
training samples × epochs / ``SAMPLES_PER_S`` (evaluation messages cost nothing). ``pull_messages``
returns the replies due by now; :class:`VirtualClock` ``idle`` jumps to the next arrival. Sites can
be taken offline between two virtual times (their message then fails like a SuperNode that lost
its heartbeat) and a reply can be passed through ``tamper`` (tests inject NaN, wrong shapes, ...).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING
from uuid import uuid4

from flwr.app import Context, Error, Message, RecordDict
from flwr.serverapp import Grid

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from flwr.clientapp import ClientApp
    from flwr.supercore.run import Run

SAMPLES_PER_S = 100.0  # virtual throughput of a speed-1 site (sample-epochs per second)


class VirtualClock:
    def __init__(self):
        self.t = 0.0
        self.grid = None

    def now(self) -> float:
        return self.t

    def idle(self, grid: VirtualGrid) -> None:
        nxt = grid.next_arrival()
        self.t = max(self.t, nxt) if nxt is not None else self.t + 1.0


class VirtualGrid(Grid):
    def __init__(
        self,
        client_app: ClientApp,
        node_configs: list[dict],
        speeds: list[float],
        clock: VirtualClock,
        *,
        outages: dict | None = None,
        tamper: Callable[[int, Message, Message], Message] | None = None,
        on_send: Callable[[str, Message], None] | None = None,
    ):
        self.app = client_app
        self.clock = clock
        self.nodes = {1000 + i: (dict(c), float(s)) for i, (c, s) in enumerate(zip(node_configs, speeds))}
        self.outages = outages or {}  # node index -> (t_from, t_to)
        self.tamper = tamper
        self.on_send = on_send  # on_send(site_name, reply Message): for the privacy test
        self.queue: list = []  # (due, seq, reply)
        self.ready: dict[str, Message] = {}
        self.seq = 0
        self.states = {n: RecordDict() for n in self.nodes}
        self._run = None
        from flwr.supercore.task_identity import TaskIdentity

        # Flower stamps messages with the process's task identity (set by the deployment engine);
        # here one process plays the coordinator's part: run 1, node 0
        for attr in ("_run_id", "_node_id", "_task_id"):
            if getattr(TaskIdentity, attr) is None:
                setattr(TaskIdentity, attr, 1 if attr == "_run_id" else 0)

    # -- Grid API ---------------------------------------------------------------------------
    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def _offline(self, node: int, t0: float, t1: float) -> float | None:
        """When the node is offline within [t0, t1] (the outage's start, or t0), else None."""
        idx = node - 1000
        for a, b in self.outages.get(idx, []):
            if a < t1 and t0 < b:
                return max(a, t0)
        return None

    def get_node_ids(self) -> list[int]:
        t = self.clock.now()
        return [n for n in self.nodes if self._offline(n, t, t + 1e-9) is None]

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        ids = []
        for msg in messages:
            mid = str(uuid4())
            msg.metadata.__dict__["_message_id"] = mid
            node = msg.metadata.dst_node_id
            conf, speed = self.nodes[node]
            ctx = Context(run_id=1, node_id=node, node_config=conf, state=self.states[node], run_config={})
            reply = self.app(msg, ctx)
            cost = 0.0
            if msg.metadata.message_type == "train" and "metrics" in reply.content.metric_records:
                m = reply.content["metrics"]
                cost = (
                    speed
                    * float(m.get("num-examples", 0))
                    * float(msg.content["config"].get("epochs", 1))
                    / SAMPLES_PER_S
                )
            if self.on_send is not None:
                self.on_send(str(conf.get("site-name", node)), reply)
            if self.tamper is not None:
                reply = self.tamper(node - 1000, msg, reply)
            due = self.clock.now() + cost
            lost = self._offline(node, self.clock.now(), due)
            if lost is not None:  # the site drops out mid-update: Flower answers with an error
                reply = Message(Error(code=5, reason="Node Unavailable (virtual outage)"), reply_to=msg)
                due = lost
            self.seq += 1
            heapq.heappush(self.queue, (due, self.seq, mid, reply))
            ids.append(mid)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        want = set(message_ids)
        while self.queue and self.queue[0][0] <= self.clock.now() + 1e-12:
            _, _, mid, reply = heapq.heappop(self.queue)
            self.ready[mid] = reply
        out = [self.ready.pop(m) for m in list(self.ready) if m in want]
        return out

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> list[Message]:
        ids = list(self.push_messages(messages))
        got = []
        while len(got) < len(ids):
            got += self.pull_messages(ids)
            if len(got) < len(ids):
                nxt = self.next_arrival()
                if nxt is None:
                    break
                self.clock.t = max(self.clock.t, nxt)
        return got

    def next_arrival(self) -> float | None:
        return self.queue[0][0] if self.queue else None
