"""The protocol engine: a Qt-free state machine over a :class:`~protocols.plan.Plan`.

The engine decides *what* is shown; a display decides *when* it reaches the screen and tells the
engine with :meth:`Engine.flipped`. Every visual event (protocol, block and trial starts and ends,
stimulus onsets and offsets) waits in ``pending`` for the flip of the first picture that shows the
new state, and is pushed with that flip's LSL time, never the time it was asked for. Other events
(``response``, ``note``, ``pause``, ``resume``, ``abort``) carry the time they happened.

Life of a run::

    eng.start()                     # protocol_start … stimulus_onset of step 0 wait for a flip
    eng.flipped(eng.scene.version, t_flip)
    eng.tick(now)                   # timed steps end at onset + duration
    eng.respond(answers, t)         # participant steps (instructions, self-report)
    eng.experimenter_next(t)        # experimenter steps (question answered, act done, pause over)
    eng.video_finished(t_end)       # a clip played to its end
    eng.pause(t) / resume(t) / skip(t) / abort(reason, t) / note(text, t)

``markers`` is anything with ``push(event, timestamp, **fields)``: the recorder's ``mexlab-markers``
outlet (:class:`acquisition.outlets.MarkerOutlet`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pylsl

from protocols.plan import Plan, PlanStep
from protocols.runlog import RunLog

EVENTS = (
    "protocol_start",
    "protocol_end",
    "block_start",
    "block_end",
    "trial_start",
    "trial_end",
    "stimulus_onset",
    "stimulus_offset",
    "response",
    "note",
    "pause",
    "resume",
    "abort",
)


@dataclass
class Scene:
    version: int
    kind: str  # "step", "end" (thank-you screen), "aborted", "blank"
    step: PlanStep | None = None
    pending: list = field(default_factory=list)  # (event, fields) pushed at the flip


class MarkerSink(Protocol):
    """Where the engine pushes its markers (an :class:`acquisition.outlets.MarkerOutlet`)."""

    def push(self, event: str, timestamp: float | None = None, **fields: Any) -> float: ...


class Engine:
    def __init__(
        self, plan: Plan, markers: MarkerSink, log: RunLog | None = None, clock: Callable[[], float] = pylsl.local_clock
    ):
        self.plan = plan
        self.markers = markers
        self.log = log
        self.clock = clock
        self.state = "ready"  # ready, running, paused, finished, aborted
        self.index = -1
        self.scene = Scene(0, "blank")
        self.onset: float | None = None  # flip time of the current step
        self.deadline: float | None = None
        self._remaining: float | None = None
        self._shown = False  # the current step reached the screen
        self._skipped = False
        self.abort_reason: str | None = None
        self.aborted_at: dict | None = None  # the step reached when aborted (see abort())
        self.listeners: list = []  # f(event, ts, fields) after every marker; f("scene", None, {}) on change
        self.pushed = 0

    # -- what the display and the panel read ----------------------------------------------------
    @property
    def step(self) -> PlanStep | None:
        return self.plan.steps[self.index] if 0 <= self.index < len(self.plan.steps) else None

    @property
    def done(self) -> bool:
        return self.state in ("finished", "aborted")

    @property
    def waiting_for(self) -> str | None:
        """``participant``, ``experimenter``, ``video_end``, ``time`` or None (not yet on screen)."""
        s = self.step
        if s is None or self.onset is None or self.scene.pending:
            return None
        return s.params["advance"]

    def step_reached(self) -> dict:
        """Where the run is: ``{"step": 1-based or 0 before the first, "of", "step_id", "label",
        "text"}``; ``text`` reads e.g. "step 7 of 24, interview trial 1: act mission"."""
        n, s = len(self.plan.steps), self.step
        if s is None:
            return {"step": 0, "of": n, "step_id": None, "label": None, "text": f"before step 1 of {n}"}
        return {
            "step": s.seq + 1,
            "of": n,
            "step_id": s.id,
            "label": s.label(),
            "text": f"step {s.seq + 1} of {n}, {s.label()}",
        }

    def upcoming(self, n: int = 6) -> list[PlanStep]:
        return self.plan.steps[self.index + 1 : self.index + 1 + n]

    def next_deadline(self) -> float | None:
        return self.deadline if self.state == "running" else None

    # -- markers --------------------------------------------------------------------------------
    def _fields(self, s: PlanStep | None, **extra) -> dict:
        f = {"protocol": self.plan.protocol.name, "block": None, "trial": None}
        if s is not None:
            f.update(block=s.block, block_n=s.block_n, trial=s.trial, step=s.type, step_id=s.id, seq=s.seq)
            if s.trial is not None and "condition" in s.vars:
                f["condition"] = s.vars["condition"]
            if "stimulus" in s.params:
                f["stimulus"] = s.params["stimulus"]
            if "question" in s.params:
                f.update(question=s.params["question"], question_kind=s.params["kind"])
        if self.plan.group is not None:
            f["group"] = self.plan.group
        f.update(extra)
        return f

    def _push(self, event: str, ts: float, fields: dict) -> None:
        self.markers.push(event, ts, **fields)
        self.pushed += 1
        if self.log is not None:
            self.log.marker(event, ts, fields)
        for cb in list(self.listeners):
            cb(event, ts, fields)

    def _changed(self) -> None:
        for cb in list(self.listeners):
            cb("scene", None, {})

    # -- transitions ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.state != "ready":
            return
        self.state = "running"
        if self.log is not None:
            self.log.write("plan", **self.plan.describe())
        self._go(
            0,
            [
                (
                    "protocol_start",
                    self._fields(
                        None, participant=self.plan.participant, quick=self.plan.quick, steps=len(self.plan.steps)
                    ),
                )
            ],
        )

    def _closing(self, prev: PlanStep | None, nxt: PlanStep | None, **extra) -> list:
        """Offset, trial_end and block_end of ``prev`` as the run moves on to ``nxt``."""
        ev = []
        if prev is None:
            return ev
        if self._shown or self.scene.pending:
            ev.append(("stimulus_offset", self._fields(prev, skipped=self._skipped, **extra)))
        new_block = nxt is None or nxt.block_n != prev.block_n
        if prev.trial is not None and (new_block or nxt.trial != prev.trial):
            ev.append(("trial_end", self._fields(prev, **extra)))
        if new_block:
            ev.append(("block_end", self._fields(prev, **extra)))
        return ev

    def _go(self, i: int, events: list | None = None) -> None:
        prev, steps = self.step, self.plan.steps
        nxt = steps[i] if i < len(steps) else None
        events = list(events or []) + self._closing(prev, nxt)
        if nxt is not None:
            if prev is None or nxt.block_n != prev.block_n:
                events.append(("block_start", {**self._fields(nxt, title=nxt.block_title), "trial": None}))
            if nxt.trial is not None and (prev is None or nxt.block_n != prev.block_n or nxt.trial != prev.trial):
                events.append(
                    ("trial_start", self._fields(nxt, row=nxt.row, trials=nxt.trials_in_block, vars=nxt.vars))
                )
            events.append(("stimulus_onset", self._fields(nxt)))
            kind = "step"
        else:
            events.append(("protocol_end", self._fields(None, aborted=False)))
            kind = "end"
        self.index = i
        self.onset = self.deadline = self._remaining = None
        self._shown = self._skipped = False
        self.scene = Scene(self.scene.version + 1, kind, nxt, self.scene.pending + events)
        self._changed()

    def flipped(self, version: int, t: float) -> None:
        """The display showed scene ``version`` for the first time at LSL time ``t``."""
        if version != self.scene.version or not self.scene.pending:
            return
        pending, self.scene.pending = self.scene.pending, []
        for event, fields in pending:
            self._push(event, t, fields)
        if self.scene.kind == "end":
            self.state = "finished"
        elif self.scene.kind == "aborted":
            self.state = "aborted"
        else:
            self.onset, self._shown = t, True
            d = self.step.params.get("duration")
            if d is not None:
                if self.state == "paused":
                    self._remaining = d
                else:
                    self.deadline = t + d
        if self.log is not None and self.done:
            self.log.write("run_end", state=self.state, reason=self.abort_reason, markers=self.pushed)
        self._changed()

    def tick(self, now: float) -> None:
        if self.state == "running" and self.deadline is not None and now >= self.deadline:
            self._go(self.index + 1)

    def respond(self, answers: dict, t: float, simulated: bool = False) -> bool:
        """A participant's answer (self-report, or Continue on instructions); moves on."""
        if self.state != "running" or self.waiting_for not in ("participant",):
            return False
        s = self.step
        fields = self._fields(s, rt=round(t - self.onset, 4), simulated=simulated, **answers)
        self._push("response", t, fields)
        if s.type == "self_report":
            self._response_row(s, "self_report", t, simulated, answers)
        self._go(self.index + 1)
        return True

    def experimenter_next(self, t: float, simulated: bool = False) -> bool:
        """The experimenter ends a question's answer window, an act or a pause."""
        if self.state != "running" or self.waiting_for != "experimenter":
            return False
        s = self.step
        if s.type == "question":
            self._push(
                "response", t, self._fields(s, kind="answer_end", rt=round(t - self.onset, 4), simulated=simulated)
            )
            self._response_row(s, "answer", t, simulated, {})
        self._go(self.index + 1)
        return True

    def video_finished(self, t_end: float) -> None:
        if self.state == "running" and self.waiting_for == "video_end":
            self._go(self.index + 1)

    def skip(self, t: float) -> bool:
        if self.state != "running" or self.step is None or self.scene.pending:
            return False
        self._skipped = True
        if self.log is not None:
            self.log.write("skip", lsl=t, step=self.step.seq, step_id=self.step.id)
        self._go(self.index + 1)
        return True

    def pause(self, t: float) -> bool:
        if self.state != "running":
            return False
        self.state = "paused"
        if self.deadline is not None:
            self._remaining, self.deadline = max(0.0, self.deadline - t), None
        self._push("pause", t, self._fields(self.step))
        self._changed()
        return True

    def resume(self, t: float) -> bool:
        if self.state != "paused":
            return False
        self.state = "running"
        if self._remaining is not None:
            self.deadline, self._remaining = t + self._remaining, None
        self._push("resume", t, self._fields(self.step))
        self._changed()
        return True

    def abort(self, reason: str, t: float) -> bool:
        """Stop now: ``abort`` at ``t``, then the open stimulus, trial, block and the protocol are closed
        at the next flip (so every start still has its end, marked ``aborted``)."""
        if self.done or self.scene.kind in ("aborted", "end"):
            return False
        self.abort_reason = reason
        self.aborted_at = self.step_reached()
        self.state = "running" if self.state == "paused" else self.state
        if self.state == "ready":
            self.state = "running"
            self.scene.pending.append(("protocol_start", self._fields(None, participant=self.plan.participant)))
        self._push("abort", t, self._fields(self.step, reason=reason))
        prev = self.step
        events = self._closing(prev, None, aborted=True)
        events.append(("protocol_end", self._fields(None, aborted=True, reason=reason)))
        self.index = len(self.plan.steps)
        self.onset = self.deadline = self._remaining = None
        self.scene = Scene(self.scene.version + 1, "aborted", None, self.scene.pending + events)
        self._changed()
        return True

    def note(self, text: str, t: float, kind: str = "note") -> None:
        """An experimenter's note or manual marker (``kind`` = ``note`` or ``marker``)."""
        self._push("note", t, self._fields(self.step, kind=kind, text=text))

    def _response_row(self, s: PlanStep, kind: str, t: float, simulated: bool, answers: dict) -> None:
        if self.log is None:
            return
        p = s.params
        self.log.response(
            {
                "participant": self.plan.participant,
                "protocol": self.plan.protocol.name,
                "group": self.plan.group,
                "block": s.block,
                "block_n": s.block_n,
                "trial": s.trial,
                "row": s.row,
                "step_id": s.id,
                "kind": kind,
                "stimulus": self._last_stimulus(s),
                "question": p.get("question"),
                "question_kind": p.get("kind") if s.type == "question" else None,
                "condition": s.vars.get("condition"),
                "onset_lsl": f"{self.onset:.6f}",
                "response_lsl": f"{t:.6f}",
                "rt_s": f"{t - self.onset:.4f}",
                "simulated": int(simulated),
                **answers,
            }
        )

    def _last_stimulus(self, s: PlanStep) -> str | None:
        """The stimulus a self-report is about: the last one before it in the same trial or block."""
        for prev in reversed(self.plan.steps[: s.seq + 1]):
            if prev.block_n != s.block_n or prev.trial != s.trial:
                break
            if "stimulus" in prev.params:
                return prev.params["stimulus"]
        return None
