"""Reconciling two coders' codings of a session into a consensus coding (no Qt).

The two codings are paired one-to-one at IoU ≥ 0.5 (:func:`analysis.annotation.reliability.pair_events`).
For every pair the reconciler picks one of :data:`CHOICES`:

* ``a`` / ``b``: coder A's (B's) event as it is;
* ``union`` / ``intersection``: a merged event — onset, apex and offset the rounded mean of the
  two (apex: of those coded, kept inside the event), AUs the union (intersection) of the two by AU
  number (coder A's side/intensity when both coded it), emotion A's (B's when A left it empty),
  confidence the mean, notes joined;
* ``drop``: neither.

Unpaired events (one coder only) are kept or dropped one by one. The result is stored as coder
``consensus`` (:data:`CONSENSUS_CODER`) with new uids, status accepted; each event's notes say
where it came from. Rejected events and open candidates are not coded events and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from acquisition.errors import InputError, NotFoundError
from analysis.annotation.model import Event, derive_type, new_uid, parse_aus
from analysis.annotation.reliability import pair_events

if TYPE_CHECKING:
    from pathlib import Path

    from analysis.annotation.store import AnnotationStore

CONSENSUS_CODER = "consensus"
CHOICES = ("a", "b", "union", "intersection", "drop")


@dataclass
class Pair:
    a: Event
    b: Event
    iou: float


@dataclass
class Reconciliation:
    coder_a: str
    coder_b: str
    pairs: list[Pair]
    only_a: list[Event]
    only_b: list[Event]


def coded(events: list[Event]) -> list[Event]:
    """The events that count as coded: not rejected, not an open candidate; sorted by onset."""
    return sorted((e for e in events if e.status == "accepted"), key=lambda e: (e.onset, e.offset, e.uid))


def reconcile(a: list[Event], b: list[Event], coder_a: str = "A", coder_b: str = "B") -> Reconciliation:
    a, b = coded(a), coded(b)
    pairs = pair_events(a, b)
    ia, ib = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    return Reconciliation(
        coder_a,
        coder_b,
        [Pair(a[i], b[j], v) for i, j, v in pairs],
        [e for i, e in enumerate(a) if i not in ia],
        [e for j, e in enumerate(b) if j not in ib],
    )


def _mean(x: int, y: int) -> int:
    return int((x + y + 1) // 2)  # round half up, deterministic


def merge(a: Event, b: Event, aus: str = "union", fps: float = 30.0) -> Event:
    """The merged event of a pair (see the module doc); ``aus``: ``union`` or ``intersection``."""
    if aus not in ("union", "intersection"):
        raise InputError(f"AU merge {aus!r} is neither union nor intersection")
    onset, offset = _mean(a.onset, b.onset), _mean(a.offset, b.offset)
    apexes = [x for x in (a.apex, b.apex) if x is not None]
    apex = None if not apexes else min(max(int(round(sum(apexes) / len(apexes))), onset), offset)
    au_a, au_b = parse_aus(a.aus), parse_aus(b.aus)
    nb = {x.number for x in au_b}
    if aus == "union":
        merged = list(au_a) + [x for x in au_b if x.number not in {y.number for y in au_a}]
    else:
        merged = [x for x in au_a if x.number in nb]
    merged.sort(key=lambda x: x.number)
    if a.type_overridden and b.type_overridden and a.type == b.type:
        typ, over = a.type, True
    else:
        typ, over = derive_type(onset, offset, fps), False
    confs = [c for c in (a.confidence, b.confidence) if c is not None]
    notes = " | ".join(n for n in (a.notes, b.notes) if n)
    return Event(
        onset=onset,
        offset=offset,
        apex=apex,
        aus="+".join(str(x) for x in merged),
        emotion=a.emotion or b.emotion,
        type=typ,
        type_overridden=over,
        confidence=sum(confs) / len(confs) if confs else None,
        notes=notes,
        status="accepted",
        source="manual",
        coder=CONSENSUS_CODER,
    )


def _as_consensus(e: Event, origin: str) -> Event:
    notes = f"{origin}{' | ' + e.notes if e.notes else ''}"
    return replace(e, uid=new_uid(), coder=CONSENSUS_CODER, status="accepted", version=0, id=None, notes=notes)


def consensus(
    rec: Reconciliation,
    choices: list[str] | None = None,
    rule: str = "union",
    keep_a: list[bool] | None = None,
    keep_b: list[bool] | None = None,
    fps: float = 30.0,
) -> list[Event]:
    """The consensus events: ``choices[k]`` for pair ``k`` (default ``rule`` for all);
    ``keep_a[i]``/``keep_b[j]`` whether coder A's (B's) unpaired event ``i`` (``j``) is kept
    (default: all kept)."""
    choices = list(choices) if choices is not None else [rule] * len(rec.pairs)
    if len(choices) != len(rec.pairs):
        raise InputError(f"{len(choices)} choice(s) for {len(rec.pairs)} pair(s)")
    bad = sorted({c for c in choices if c not in CHOICES})
    if bad:
        raise InputError(f"unknown choice {bad[0]!r} (choose one of {', '.join(CHOICES)})")
    out = []
    for p, c in zip(rec.pairs, choices):
        tag = f"{rec.coder_a}/{rec.coder_b} {p.a.uid[:8]}/{p.b.uid[:8]}"
        if c == "a":
            out.append(_as_consensus(p.a, f"consensus: {rec.coder_a}'s of {tag}"))
        elif c == "b":
            out.append(_as_consensus(p.b, f"consensus: {rec.coder_b}'s of {tag}"))
        elif c in ("union", "intersection"):
            m = merge(p.a, p.b, c, fps)
            out.append(replace(m, notes=f"consensus: merged ({c}) {tag}" + (f" | {m.notes}" if m.notes else "")))
    for evs, keep, who in ((rec.only_a, keep_a, rec.coder_a), (rec.only_b, keep_b, rec.coder_b)):
        keep = [True] * len(evs) if keep is None else list(keep)
        for e, k in zip(evs, keep):
            if k:
                out.append(_as_consensus(e, f"consensus: only {who} {e.uid[:8]}"))
    return sorted(out, key=lambda e: (e.onset, e.offset))


class ReconcileChoices:
    """A reconciliation being decided (what the reconcile dialog shows and edits): the pairs and
    unpaired events of two coders, a choice per pair (``union`` until changed) and keep or drop
    per unpaired event (kept until changed)."""

    def __init__(self, a: list[Event], b: list[Event], coder_a: str, coder_b: str):
        self.rec = reconcile(a, b, coder_a, coder_b)
        self.choices = ["union"] * len(self.rec.pairs)
        self.keep_a = [True] * len(self.rec.only_a)
        self.keep_b = [True] * len(self.rec.only_b)

    def choose(self, pair: int, choice: str) -> None:
        if choice not in CHOICES:
            raise InputError(f"unknown choice {choice!r} (choose one of {', '.join(CHOICES)})")
        self.choices[pair] = choice

    def keep(self, side: str, k: int, keep: bool) -> None:
        (self.keep_a if side == "a" else self.keep_b)[k] = bool(keep)

    def result(self, fps: float = 30.0) -> list[Event]:
        """The consensus events the current choices give."""
        return consensus(self.rec, self.choices, keep_a=self.keep_a, keep_b=self.keep_b, fps=fps)

    def summary(self) -> str:
        r = self.rec
        return (
            f"{len(r.pairs)} pair(s) at IoU ≥ 0.5 · {len(r.only_a)} only {r.coder_a} · {len(r.only_b)} only {r.coder_b}"
        )


def session_consensus(
    store: AnnotationStore, session: str | Path, coder_a: str, coder_b: str, rule: str = "union", unpaired: str = "keep"
) -> tuple[Reconciliation, list[Event]]:
    """Reconcile two coders' codings of a session folder (or video) in ``store`` and store the
    consensus as coder ``consensus`` (replacing an earlier one; its revisions keep it)."""
    from analysis.annotation.clip import open_clip

    if unpaired not in ("keep", "drop"):
        raise InputError(f"unpaired events: {unpaired!r} is neither keep nor drop")
    clip = open_clip(session)
    have = store.coders(clip.session_id)
    for c in (coder_a, coder_b):
        if c not in have:
            raise NotFoundError(
                f"{session}: no events of coder {c!r} in the catalog (coders: {', '.join(have) or 'none'})"
            )
    if CONSENSUS_CODER in (coder_a, coder_b) or coder_a == coder_b:
        raise InputError("reconcile two different coders (not the consensus itself)")
    rec = reconcile(store.events(clip.session_id, coder_a), store.events(clip.session_id, coder_b), coder_a, coder_b)
    k = unpaired == "keep"
    evs = consensus(rec, rule=rule, keep_a=[k] * len(rec.only_a), keep_b=[k] * len(rec.only_b), fps=clip.fps)
    return rec, store.replace_coding(clip.session_id, CONSENSUS_CODER, evs)
