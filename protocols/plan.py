"""From a protocol to the run of one participant: blocks and trials in order, every variable filled.

Counterbalancing and randomisation depend on the participant ID only, so a participant's run can
always be reproduced:

* the participant number is the number at the end of the ID (``P007`` -> 7); an ID without one is
  numbered by a hash of the ID. Group assignment is ``groups[(number - 1) % len(groups)]``, so
  consecutive IDs alternate between groups; ``latin`` orders are rotated by ``number - 1``;
* ``random`` shuffles each repetition of a list, ``full_random`` shuffles all repetitions together,
  with a generator seeded by SHA-256 of (protocol name, participant ID, block id, what is shuffled).
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.conditions import read_conditions
from protocols.errors import ProtocolError, where
from protocols.model import Block, Conditions, Protocol, Step

QUICK_MAX_S = 2.0


@dataclass
class PlanStep:
    seq: int  # 0-based position in the run
    type: str
    id: str
    block: str
    block_n: int  # 1-based occurrence of a block in the run (repeats count)
    block_title: str
    trial: int | None  # 1-based trial in its block, None for a block's before/after steps
    trials_in_block: int
    row: int | None  # 1-based row of the conditions table
    vars: dict  # the trial's variables (conditions row)
    params: dict  # resolved: text, file, duration, advance, ...
    source: str  # file, line, field: for messages

    def label(self) -> str:
        what = self.params.get("stimulus") or self.params.get("question") or self.id
        trial = f" trial {self.trial}" if self.trial else ""
        return f"{self.block}{trial}: {self.type} {what}"


@dataclass
class Plan:
    protocol: Protocol
    participant: str
    number: int
    group: str | None
    quick: bool
    steps: list[PlanStep] = field(default_factory=list)
    variables: dict = field(default_factory=dict)  # protocol + group variables

    def describe(self) -> dict:
        return {
            "protocol": self.protocol.name,
            "file": str(self.protocol.path),
            "participant": self.participant,
            "participant_number": self.number,
            "group": self.group,
            "quick": self.quick,
            "steps": len(self.steps),
            "order": [s.label() for s in self.steps],
        }


def participant_number(participant: str) -> int:
    m = re.search(r"(\d+)\D*$", participant or "")
    if m:
        return max(int(m.group(1)), 1)
    return int(hashlib.sha256((participant or "").encode()).hexdigest()[:8], 16) % 100000 + 1


def rng_for(protocol: str, participant: str, *salt: object) -> random.Random:
    text = "|".join([protocol, participant, *map(str, salt)])
    return random.Random(int(hashlib.sha256(text.encode()).hexdigest()[:16], 16))


def order_items(items: list, order: str, repeat: int, number: int, rng: random.Random) -> list:
    """``repeat`` repetitions of ``items`` in the order asked for."""
    if order == "full_random":
        out = [x for _ in range(repeat) for x in items]
        rng.shuffle(out)
        return out
    out = []
    for _ in range(repeat):
        rep = list(items)
        if order == "random":
            rng.shuffle(rep)
        elif order == "latin" and rep:
            k = (number - 1) % len(rep)
            rep = rep[k:] + rep[:k]
        out += rep
    return out


# ------------------------------------------------------------------------------------------------
def render(value: Any, variables: dict, src: str) -> Any:
    """Fill ``{name}`` in every string of ``value`` (``{{`` and ``}}`` are literal braces)."""
    if isinstance(value, str):
        out = []
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ProtocolError(f"{src}: {value!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
        for literal, name, spec, conv in parsed:
            out.append(literal)
            if name is None:
                continue
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) or spec or conv:
                raise ProtocolError(f"{src}: '{{{name}}}' is not a variable name (write {{{{ for a literal brace)")
            if name not in variables:
                known = ", ".join(sorted(variables)) or "none"
                raise ProtocolError(f"{src}: unknown variable '{{{name}}}' (defined here: {known})")
            out.append(str(variables[name]))
        return "".join(out)
    if isinstance(value, list):
        return [render(v, variables, src) for v in value]
    if isinstance(value, dict):
        return {k: render(v, variables, src) for k, v in value.items()}
    return value


def _seconds(value, loc, name: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"{loc(name)}: {value!r} is not a number of seconds") from None
    if not x > 0 or x == float("inf"):
        raise ProtocolError(f"{loc(name)}: {value!r} must be a number of seconds greater than 0")
    return x


def _file(proto: Protocol, rel: str, loc, name: str) -> Path:
    p = Path(rel)
    p = p if p.is_absolute() else proto.stimuli / p
    if not p.is_file():
        hint = (
            " (the demo stimuli are made by 'mexlab protocols demo-stimuli')"
            if proto.demo_stimuli
            else f" (stimuli are looked for in {proto.stimuli})"
        )
        raise ProtocolError(f"{loc(name)}: stimulus file {p} does not exist{hint}")
    return p


def resolve_step(
    proto: Protocol, step: Step, variables: dict, quick: bool, counter: dict, row_src: str = ""
) -> tuple[str, dict]:
    def loc(name=None):
        line = proto.line_of(tuple(_parts(step.path)) + ((name,) if name else ())) or step.line
        templated = name is None or "{" in str(step.raw.get(name, ""))
        return where(proto.path, line, step.path + (f".{name}" if name else "")) + (row_src if templated else "")

    raw = {k: render(v, variables, loc(k)) for k, v in step.raw.items() if k != "comment"}
    t = step.type
    counter[t] = counter.get(t, 0) + 1
    sid = raw.get("id") or f"{t}-{counter[t]}"
    dur = _seconds(raw.get("duration"), loc, "duration")
    p: dict = {"duration": dur, "advance": "time"}
    if t == "instructions":
        p.update(text=raw.get("text", ""), image=_file(proto, raw["image"], loc, "image") if "image" in raw else None)
        p["advance"] = raw.get("advance") or ("time" if dur else "participant")
    elif t == "fixation":
        p.update(duration=dur or 1.0, symbol=raw.get("symbol", "+"))
    elif t == "rest":
        p.update(text=raw.get("text", "Please relax and look at the cross."), label=raw.get("label", "baseline"))
    elif t == "stimulus":
        kind = next(k for k in ("video", "image", "text") if k in raw)
        p.update(kind=kind, audio=bool(raw.get("audio", True)))
        if kind == "text":
            p.update(text=raw["text"], stimulus=raw.get("id") or sid)
        else:
            f = _file(proto, raw[kind], loc, kind)
            p.update(file=f, stimulus=raw.get("id") or f.name)
            sid = raw.get("id") or f.stem
        if kind == "video" and (raw.get("until") == "end" or dur is None):
            p["advance"] = "video_end"  # duration, if given as well, is a maximum
    elif t == "self_report":
        p.update(
            items=raw.get("items", ["category", "intensity", "valence", "arousal", "text"]),
            categories=raw.get("categories", proto.emotions),
            prompt=raw.get("prompt", "How did you feel?"),
            advance="participant",
        )
    elif t == "question":
        p.update(
            question=raw["id"],
            text=raw["text"],
            kind=raw.get("kind", "question"),
            advance="experimenter",
            participant_text=raw.get("participant_text", ""),
            duration=_seconds(raw.get("answer_s"), loc, "answer_s"),
        )
    elif t == "act":
        p.update(text=raw["text"], advance=raw.get("advance", "experimenter"))
    elif t == "pause":
        p.update(
            text=raw.get("text", "Please wait, the experimenter will continue shortly."),
            message=raw.get("message", "Experimenter pause: press Continue when ready."),
            advance="experimenter",
        )
    if quick and p["duration"] is not None:
        p["duration"] = min(p["duration"], QUICK_MAX_S)
    if quick and p["advance"] == "video_end":
        p["duration"] = QUICK_MAX_S if p["duration"] is None else min(p["duration"], QUICK_MAX_S)
    return sid, p


def _conditions(proto: Protocol, block: Block, variables: dict) -> Conditions | None:
    if block.conditions_template is None:
        return block.conditions
    line = proto.line_of(tuple(_parts(block.path)) + ("trials", "conditions"))
    src = where(proto.path, line, f"{block.path}.trials.conditions")
    name = render(block.conditions_template, variables, src)
    return read_conditions(proto.folder / name, proto.path, line, f"{block.path}.trials.conditions")


def _parts(path: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+", path)]


MAX_PLAN_STEPS = 100_000  # a day of 1-s steps is 86,400


def build_plan(
    proto: Protocol, participant: str, *, quick: bool = False, group: str | None = None, shuffle: bool = True
) -> Plan:
    """The participant's run. ``group`` overrides the assignment by participant number."""
    if not (participant or "").strip() or any(c in participant for c in "/\\\n\t"):
        raise ProtocolError(f"participant {participant!r}: give a pseudonym of letters, digits, - or _")
    if group is not None and not proto.groups:
        raise ProtocolError(f"group {group!r}: {proto.path} has no counterbalancing groups")
    number = participant_number(participant)
    g = None
    if proto.groups:
        if group is None:
            g = proto.groups[(number - 1) % len(proto.groups)]
        else:
            g = next((x for x in proto.groups if x["id"] == group), None)
            if g is None:
                raise ProtocolError(
                    f"group {group!r} is not a group of {proto.path} ({', '.join(x['id'] for x in proto.groups)})"
                )
    base = {**proto.variables, **(g.get("variables", {}) if g else {})}
    if g:
        base["group"] = g["id"]
    base["participant"] = participant
    plan = Plan(proto, participant, number, g["id"] if g else None, quick, variables=base)
    order = "fixed" if not shuffle else proto.block_order
    blocks = [b for b in order_items(proto.blocks, order, 1, number, rng_for(proto.name, participant, "blocks"))]
    counter: dict = {}
    block_n = 0
    for b in blocks:
        for rep in range(1 if quick else b.repeat):
            block_n += 1
            bvars = {**base, **b.variables, "block": b.id}
            conds = _conditions(proto, b, bvars)
            trials = []
            if b.trial_steps:
                rows = list(enumerate(conds.rows)) if conds else [(0, {})]
                rng = rng_for(proto.name, participant, b.id, rep, "trials")
                trials = order_items(rows, b.order if shuffle else "fixed", b.trial_repeat, number, rng)
                if quick:
                    trials = trials[:1]
            n = len(trials)

            if len(plan.steps) + n * len(b.trial_steps) > MAX_PLAN_STEPS:
                raise ProtocolError(
                    f"{where(proto.path, b.line, b.path)}: "
                    f"block {b.id!r} makes the run longer than {MAX_PLAN_STEPS:,} steps "
                    f"(repeat {b.repeat}, {n} trial(s)); no session can run that"
                )

            def add(step: Step, trial, row, tvars, values=None, _b=b, _n=n, _bn=block_n, _c=conds):
                rsrc = ""
                if row is not None and _c is not None:
                    rsrc = f" (trial variables from {_c.source}, line {_c.lines[row - 1]})"
                sid, params = resolve_step(proto, step, tvars, quick, counter, rsrc)
                plan.steps.append(
                    PlanStep(
                        len(plan.steps),
                        step.type,
                        sid,
                        _b.id,
                        _bn,
                        _b.title,
                        trial,
                        _n,
                        row,
                        dict(values or {}),
                        params,
                        where(proto.path, step.line, step.path),
                    )
                )

            for s in b.before:
                add(s, None, None, bvars)
            for ti, (ri, row) in enumerate(trials, 1):
                tvars = {**bvars, **row, "trial": ti}
                for s in b.trial_steps:
                    add(s, ti, ri + 1 if conds else None, tvars, row)
            for s in b.after:
                add(s, None, None, bvars)
    return plan
