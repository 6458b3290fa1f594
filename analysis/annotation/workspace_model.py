"""What the Annotate workspace knows, without Qt: the current frame, the selected event, the event
being coded (pending), the candidates imported and which of them coincide with the coder's own
events, and the playback clock. The widget renders this and forwards keys to it; tests drive it
without a display.

The coding keys (I onset, P apex, O offset) follow three rules, so a key never changes an event
the coder is not looking at:

1. While an event is being coded (pending), every coding key fills that event; it is stored as
   soon as it has an onset and an offset, in whatever order they were pressed (``O`` before ``I``
   works; so does ``P`` first). An apex outside onset..offset is not kept, and the message says so.
2. With no event being coded, a key edits the *selected* event only when the current frame lies
   inside it (onset..offset), and the message names the event and the change (undo reverts it).
3. Otherwise the key starts a new pending event and the selection is cleared.

Undo (Ctrl+Z) first takes back the marks of the pending event, last first, and only then undoes
stored changes; Escape drops the pending event (or, without one, clears the selection).

Imported candidates (EMG bursts, spotted intervals) that coincide with an event the coder already
made (accepted or rejected, temporal IoU >= :data:`~analysis.annotation.reliability.IOU_MIN`, the
rule reliability pairs events by) are not added: they are listed in :attr:`AnnotateModel.matches`
under that event, and the table shows them ("emg 120-135" in the event's *matches* column).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acquisition.errors import MexlabError
from analysis.annotation.model import Coding, Event
from analysis.annotation.reliability import IOU_MIN, iou

MARKS = ("onset", "apex", "offset")


@dataclass
class Pending:
    """An event being coded: the marks set so far, in the order they were pressed."""

    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    order: list[str] = field(default_factory=list)

    def set(self, mark: str, frame: int) -> None:
        setattr(self, mark, int(frame))
        if mark in self.order:
            self.order.remove(mark)
        self.order.append(mark)

    def describe(self) -> str:
        got = [f"{m} {getattr(self, m)}" for m in MARKS if getattr(self, m) is not None]
        need = [k for m, k in (("onset", "I onset"), ("offset", "O offset")) if getattr(self, m) is None]
        return "new event: " + ", ".join(got) + (f" (press {' and '.join(need)} to store it)" if need else "")


class AnnotateModel:
    """The state of one coder's Annotate session (see the module's rules)."""

    def __init__(self, coding: Coding, n_frames: int):
        self.coding = coding
        self.n_frames = max(int(n_frames), 1)
        self.frame = 0
        self.selected_uid: str | None = None
        self.pending: Pending | None = None
        self.matches: dict[str, list[str]] = {}  # event uid -> candidates that coincide with it
        self.last_matched = 0  # how many candidates of the last import coincided
        self.message = ""
        self.error = False

    # ------------------------------------------------------------------ frame and selection
    def seek(self, n: int) -> int:
        self.frame = int(min(max(int(n), 0), self.n_frames - 1))
        return self.frame

    def selected(self) -> Event | None:
        return self.coding.events.get(self.selected_uid) if self.selected_uid else None

    def select(self, uid: str | None) -> None:
        self.selected_uid = uid if (uid and uid in self.coding.events) else None

    def number(self, uid: str) -> int | None:
        """The event's number as the table shows it (#1 is the earliest)."""
        for k, e in enumerate(self.coding.sorted(), 1):
            if e.uid == uid:
                return k
        return None

    def say(self, text: str, error: bool = False) -> None:
        """The line the workspace shows next (``error``: in red)."""
        self.message, self.error = text, error

    _say = say

    def info_line(self, t: float, last_frame: int) -> str:
        """The workspace's info line: frame, time (``t``, s) and what the coding keys will change
        (the pending event, or the selected one when the frame is inside it)."""
        n, sel = self.frame, self.selected()
        if self.pending is not None:
            what = "   " + self.pending.describe()
        elif sel is not None and sel.onset <= n <= sel.offset:
            what = f"   I/P/O edit event #{self.number(sel.uid)} ({sel.onset}-{sel.offset})"
        else:
            what = ""
        return f"frame {n} / {last_frame}   t = {t:8.3f} s{what}"

    def event_spans(self, time_of: Callable[[int], float]) -> tuple[list[tuple[float, float, str, str]], int | None]:
        """The events as bands on the tracks, ``(t0, t1, status, label)`` numbered as in the table
        (``time_of``: frame -> s; an event ends at the end of its offset frame), and the index of
        the selected one (outlined), or None."""
        evs = self.coding.sorted()
        spans = [
            (time_of(e.onset), time_of(e.offset + 1), e.status, f"#{k} {e.aus} {e.emotion or ''}".strip())
            for k, e in enumerate(evs, 1)
        ]
        return spans, next((k for k, e in enumerate(evs) if e.uid == self.selected_uid), None)

    # ------------------------------------------------------------------ coding keys
    def mark(self, which: str) -> Event | None:
        """The onset, apex or offset key at the current frame; returns the event stored or edited
        (None while the new event is still pending, or when nothing changed)."""
        if which not in MARKS:
            raise ValueError(which)
        f = self.frame
        if self.pending is not None:
            self.pending.set(which, f)
            return self._close_pending()
        sel = self.selected()
        if sel is not None and sel.onset <= f <= sel.offset:
            return self._edit_mark(sel, which, f)
        if sel is not None:
            self.selected_uid = None  # visible: the table row is no longer selected
        self.pending = Pending()
        self.pending.set(which, f)
        return self._close_pending()

    def _close_pending(self) -> Event | None:
        p = self.pending
        if p.onset is None or p.offset is None:
            self._say(p.describe())
            return None
        on, off = sorted((p.onset, p.offset))
        apex, note = p.apex, ""
        if apex is not None and not on <= apex <= off:
            note = f"; apex {apex} is outside {on}-{off} and was not kept (press P inside the event)"
            apex = None
        self.pending = None
        e = self.coding.add(Event(onset=on, offset=off, apex=apex, coder=self.coding.coder))
        self.selected_uid = e.uid
        ap = f", apex {e.apex}" if e.apex is not None else ", no apex"
        self._say(f"event #{self.number(e.uid)} stored: {e.onset}-{e.offset}{ap}{note}", error=bool(note))
        return e

    def _edit_mark(self, sel: Event, which: str, f: int) -> Event | None:
        changes: dict = {which: f}
        extra = ""
        if which == "onset" and sel.apex is not None and f > sel.apex:
            changes["apex"], extra = None, f" (apex {sel.apex} now before the onset: cleared)"
        if which == "offset" and sel.apex is not None and f < sel.apex:
            changes["apex"], extra = None, f" (apex {sel.apex} now after the offset: cleared)"
        if getattr(sel, which) == f and len(changes) == 1:
            self._say(f"event #{self.number(sel.uid)}: {which} is already {f}")
            return None
        e = self.edit(**changes)
        if e is not None:
            old = getattr(sel, which)
            self._say(
                f"event #{self.number(e.uid)} (selected): {which} {'-' if old is None else old} -> {f}"
                f"{extra}; Ctrl+Z undoes"
            )
        return e

    def edit(self, **changes: Any) -> Event | None:
        """Change fields of the selected event (one undoable step); None when none is selected,
        nothing changes, or the change is refused (the message says why)."""
        sel = self.selected()
        if sel is None:
            self._say("select an event first (click its row)", error=True)
            return None
        if all(getattr(sel, k) == v for k, v in changes.items()):
            return None
        try:
            return self.coding.update(sel.uid, **changes)
        except MexlabError as exc:
            self._say(str(exc), error=True)
            return None

    def set_status(self, status: str) -> Event | None:
        sel = self.selected()
        if sel is None:
            self._say(f"select an event to mark it {status} (click its row)", error=True)
            return None
        e = self.edit(status=status)
        if e is not None:
            self._say(f"event #{self.number(e.uid)} {e.onset}-{e.offset}: {status}")
        return e

    def delete_selected(self) -> bool:
        sel = self.selected()
        if sel is None:
            self._say(
                "select an event to delete it (click its row)"
                + ("; Escape drops the event being coded" if self.pending is not None else ""),
                error=True,
            )
            return False
        n = self.number(sel.uid)
        self.coding.remove(sel.uid)
        self.selected_uid = None
        self.matches.pop(sel.uid, None)
        self._say(f"event #{n} {sel.onset}-{sel.offset} deleted; Ctrl+Z brings it back")
        return True

    def cancel(self) -> None:
        """Escape: drop the pending event, else clear the selection."""
        if self.pending is not None:
            self.pending = None
            self._say("new event discarded")
        else:
            self.selected_uid = None
            self._say("")

    def undo(self) -> bool:
        if self.pending is not None:
            m = self.pending.order.pop()
            self._say(f"{m} mark at {getattr(self.pending, m)} taken back")
            setattr(self.pending, m, None)
            if not self.pending.order:
                self.pending = None
            return True
        what = self.coding.undo()
        if what is None:
            self._say("nothing to undo")
            return False
        self.select(self.selected_uid)
        self._say(f"undone: {what}")
        return True

    def redo(self) -> bool:
        if self.pending is not None:
            self._say("finish or drop (Escape) the new event before redoing", error=True)
            return False
        what = self.coding.redo()
        if what is None:
            self._say("nothing to redo")
            return False
        self.select(self.selected_uid)
        self._say(f"redone: {what}")
        return True

    # ------------------------------------------------------------------ candidates
    def coinciding(self, cand: Event) -> Event | None:
        """The coder's own event (accepted or rejected, not a candidate) that ``cand`` coincides
        with (greatest IoU >= IOU_MIN), or None."""
        best, best_v = None, IOU_MIN
        for e in self.coding.events.values():
            if e.status == "candidate":
                continue
            v = iou(cand, e)
            if v >= best_v:
                best, best_v = e, v
        return best

    def add_candidates(self, events: list[Event]) -> tuple[int, int]:
        """Add EMG or spotting candidates (status candidate). One already there (same source and
        frames) is not added twice; one coinciding with an event of the coder's is not added but
        listed in :attr:`matches` under that event. Returns (added, coinciding)."""
        have = {(e.source, e.onset, e.offset, e.aus) for e in self.coding.events.values()}
        added = matched = 0
        for e in events:
            if (e.source, e.onset, e.offset, e.aus) in have:
                continue
            own = self.coinciding(e)
            if own is not None:
                text = f"{e.source} {e.onset}-{e.offset}"
                lst = self.matches.setdefault(own.uid, [])
                if text not in lst:
                    lst.append(text)
                    matched += 1
                continue
            self.coding.add(Event(**{**e.content(), "coder": self.coding.coder}))
            have.add((e.source, e.onset, e.offset, e.aus))
            added += 1
        self.last_matched = matched
        return added, matched

    def match_text(self, uid: str) -> str:
        return ", ".join(self.matches.get(uid, ()))


def frame_of(text: str, frame_at: Callable[[float], int]) -> int:
    """The frame the go-to field names: ``123`` (a frame) or ``4.5s`` (a time, ``frame_at``: s ->
    frame); ValueError for anything else."""
    text = text.strip().lower()
    return frame_at(float(text[:-1])) if text.endswith("s") else int(text)


class PlayClock:
    """1x is real time: the frame to show is computed from the wall clock since Play (frames
    that cannot be drawn in time are skipped, never slowed down)."""

    def __init__(self, fps: float, speed: float, start_frame: int, now: float | None = None):
        self.fps, self.speed, self.start = float(fps), float(speed), int(start_frame)
        self.t0 = time.perf_counter() if now is None else now

    def frame(self, now: float | None = None) -> int:
        t = (time.perf_counter() if now is None else now) - self.t0
        return self.start + int(t * self.fps * self.speed)


class Playback:
    """What to show while playing: the frame of the :class:`PlayClock`, wrapped inside ``loop``
    (onset, offset) when given, None when it is still the frame shown, -1 at the end of the video.
    Counts the frames drawn and skipped (``stats``)."""

    def __init__(
        self,
        fps: float,
        speed: float,
        frame: int,
        n_frames: int,
        loop: tuple[int, int] | None = None,
        now: float | None = None,
    ):
        self.clock = PlayClock(fps, speed, frame, now)
        self.n_frames, self.loop = int(n_frames), loop
        self.stats = {"shown": 0, "skipped": 0}

    def due(self, shown: int, now: float | None = None) -> int | None:
        nxt = self.clock.frame(now)
        if self.loop and nxt > self.loop[1]:
            nxt = self.loop[0]
            self.clock = PlayClock(self.clock.fps, self.clock.speed, nxt, now)
        if nxt == shown:
            return None
        if nxt >= self.n_frames:
            return -1
        self.stats["skipped"] += max(0, nxt - shown - 1)
        self.stats["shown"] += 1
        return nxt


UNIT_SYMBOLS = {
    "microvolts": "µV",
    "microvolt": "µV",
    "uv": "µV",
    "µv": "µV",
    "millivolts": "mV",
    "millivolt": "mV",
    "mv": "mV",
    "volts": "V",
    "v": "V",
    "microsiemens": "µS",
    "microsiemen": "µS",
    "us": "µS",
    "µs": "µS",
    "bpm": "bpm",
    "beats per minute": "bpm",
}


def unit_symbol(unit: str | None) -> str | None:
    """``microvolts`` -> ``µV`` (a unit mexlab does not know is shown as written; None: none given)."""
    if unit is None or not str(unit).strip():
        return None
    return UNIT_SYMBOLS.get(str(unit).strip().lower(), str(unit).strip())


def track_label(name: str, unit: str | None) -> str:
    """A track's name with its unit: ``ECG (mV)``; ``EMG x (unit not in the file)`` without one."""
    sym = unit_symbol(unit)
    return f"{name} ({sym})" if sym else f"{name} (unit not in the file)"
