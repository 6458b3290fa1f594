"""Coded events and the undoable edits of one coder's coding of one session (no Qt).

Frames are 0-based frame numbers of the session's ``rgb.mkv`` (inclusive onset..offset).

AUs are FACS codes: ``AU12``, with an optional side (``L``/``R``) and intensity (``A``-``E``).
They are kept as a canonical text ``"4+R12C"`` (FACS notation: side, number, intensity) and parsed
from any of ``AU4+AU7``, ``4+7``, ``R12``, ``AU12C``, ``L AU12``, ``AU12R``, comma or ``+`` separated.

Type: ``micro`` when the event lasts at most 0.5 s at the session's frame rate
(``(offset - onset + 1) / fps <= 0.5``), else ``macro``; the coder can override it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from acquisition.errors import InputError

ME_MAX_S = 0.5
STATUSES = ("candidate", "accepted", "rejected")
SOURCES = ("manual", "emg", "spotting", "import")
TYPES = ("micro", "macro")

#: emotion schemes a coder can pick from
EMOTION_SCHEMES: dict[str, tuple[str, ...]] = {
    "casme2": ("happiness", "disgust", "repression", "surprise", "others"),
    "three": ("negative", "positive", "surprise"),
    "basic7": ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"),
}

_AU_RE = re.compile(
    r"^(?P<side>[LRB])?\s*-?\s*(?:AU)?\s*(?P<n>\d{1,3})\s*(?P<int>[A-E])?\s*(?P<side2>[LR])?$", re.IGNORECASE
)


@dataclass(frozen=True)
class AU:
    number: int
    side: str = ""  # "" | L | R
    intensity: str = ""  # "" | A..E

    def __str__(self) -> str:
        return f"{self.side}{self.number}{self.intensity}"

    @property
    def label(self) -> str:
        return f"{self.side}AU{self.number}{self.intensity}"


def parse_aus(text: str | Iterable | None) -> tuple[AU, ...]:
    """AUs of a text such as ``AU4+AU7`` or ``4, R12C``; MexlabError naming a token it cannot read."""
    if text is None:
        return ()
    if isinstance(text, (list, tuple)):
        text = "+".join(str(t) for t in text)
    text = str(text).strip()
    if not text or text.lower() in ("nan", "none", "-", "/"):
        return ()
    out: list[AU] = []
    for token in re.split(r"[+,;/]|\s{2,}", text):
        token = token.strip()
        if not token:
            continue
        m = _AU_RE.match(token)
        if not m:
            raise InputError(f"{token!r} is not an action unit (expected e.g. AU4, 12, R12C)")
        side = (m.group("side") or m.group("side2") or "").upper()
        side = "" if side == "B" else side
        au = AU(int(m.group("n")), side, (m.group("int") or "").upper())
        if au not in out:
            out.append(au)
    return tuple(out)


def format_aus(aus: str | Iterable[AU]) -> str:
    return "+".join(str(a) for a in (parse_aus(aus) if isinstance(aus, str) else aus))


def au_numbers(aus: str | Iterable[AU]) -> set[int]:
    return {a.number for a in (parse_aus(aus) if isinstance(aus, str) else aus)}


def derive_type(onset: int, offset: int, fps: float) -> str:
    """``micro`` when the event lasts ≤ 0.5 s at ``fps``, else ``macro``."""
    return "micro" if (offset - onset + 1) / float(fps) <= ME_MAX_S + 1e-9 else "macro"


def new_uid() -> str:
    return uuid.uuid4().hex


@dataclass
class Event:
    onset: int
    offset: int
    apex: int | None = None
    aus: str = ""
    emotion: str | None = None
    type: str = "micro"
    type_overridden: bool = False
    confidence: float | None = None
    notes: str = ""
    status: str = "accepted"
    source: str = "manual"
    coder: str = ""
    uid: str = field(default_factory=new_uid)
    version: int = 0  # 0: never stored; else the catalog row's version when read
    id: int | None = None  # catalog row id

    def __post_init__(self):
        self.aus = format_aus(self.aus)
        if self.offset < self.onset:
            self.onset, self.offset = self.offset, self.onset
        if self.apex is not None and not self.onset <= self.apex <= self.offset:
            raise InputError(f"apex frame {self.apex} is outside the event {self.onset}-{self.offset}")
        if self.type not in TYPES:
            raise InputError(f"event type {self.type!r} is not one of {', '.join(TYPES)}")
        if self.status not in STATUSES:
            raise InputError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def au_list(self) -> tuple[AU, ...]:
        return parse_aus(self.aus)

    def retyped(self, fps: float) -> Event:
        """This event with its type derived from its duration, unless the coder overrode it."""
        if self.type_overridden:
            return self
        return replace(self, type=derive_type(self.onset, self.offset, fps))

    def content(self) -> dict:
        """The coded fields (what export/import and the revision history carry)."""
        d = asdict(self)
        for k in ("version", "id"):
            d.pop(k)
        return d


# ----------------------------------------------------------------------------------- editing
@dataclass
class _Command:
    text: str
    before: Event | None  # None: the event did not exist
    after: Event | None  # None: the event is removed


class Coding:
    """One coder's events of one session, with undo/redo.

    Every change goes through :meth:`add`, :meth:`update`, :meth:`remove` (undoable) and is
    passed to ``on_change(before, after)`` — the workspace saves it to the catalog right away
    (autosave). ``fps`` derives micro/macro types.
    """

    def __init__(
        self,
        coder: str,
        fps: float,
        events: Iterable[Event] = (),
        on_change: Callable[[Event | None, Event | None], Event | None] | None = None,
    ):
        self.coder, self.fps = coder, float(fps)
        self.events: dict[str, Event] = {e.uid: e for e in events}
        self.on_change = on_change
        self._undo: list[_Command] = []
        self._redo: list[_Command] = []

    def sorted(self) -> list[Event]:
        return sorted(self.events.values(), key=lambda e: (e.onset, e.offset, e.uid))

    def _apply(self, before: Event | None, after: Event | None) -> None:
        if after is None:
            self.events.pop(before.uid, None)
        else:
            self.events[after.uid] = after
        if self.on_change is not None:
            stored = self.on_change(before, after)
            if stored is not None:  # the store gives back the new version number
                self.events[stored.uid] = stored

    def _do(self, cmd: _Command) -> None:
        self._apply(cmd.before, cmd.after)
        self._undo.append(cmd)
        self._redo.clear()

    def add(self, event: Event) -> Event:
        event = replace(event, coder=event.coder or self.coder).retyped(self.fps)
        self._do(_Command("add event", None, event))
        return self.events[event.uid]

    def update(self, uid: str, **changes: Any) -> Event:
        before = self.events[uid]
        if "type" in changes and "type_overridden" not in changes:
            changes["type_overridden"] = True
        after = replace(before, **changes).retyped(self.fps)
        self._do(_Command("edit event", before, after))
        return self.events[uid]

    def remove(self, uid: str) -> None:
        self._do(_Command("delete event", self.events[uid], None))

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> str | None:
        if not self._undo:
            return None
        cmd = self._undo.pop()
        current = self.events.get((cmd.after or cmd.before).uid)
        before = replace(cmd.before, version=current.version) if (cmd.before and current) else cmd.before
        if before is not None and current is None:
            before = replace(before, version=0, id=None)
        self._apply(current, before)
        self._redo.append(cmd)
        return cmd.text

    def redo(self) -> str | None:
        if not self._redo:
            return None
        cmd = self._redo.pop()
        current = self.events.get((cmd.after or cmd.before).uid)
        after = replace(cmd.after, version=current.version) if (cmd.after and current) else cmd.after
        if after is not None and current is None:
            after = replace(after, version=0, id=None)
        self._apply(current, after)
        self._undo.append(cmd)
        return cmd.text
