"""Crash safety of typed text: every keystroke in a note (or the AU field) is appended to a journal
before the debounced save to the catalog, and the journal is replayed when the session is opened
again — so nothing typed is lost when the program dies between a keystroke and its save.

One append-only JSONL file per (catalog, session, coder) in the user data folder
(``<user data dir>/annotation-journal/``): ``{"uid", "field", "value", "at"}`` per keystroke,
``{"uid", "field", "saved": true}`` once the catalog holds that value. Each line is flushed and
fsync'ed. What is typed and not saved is :meth:`Journal.pending`; :func:`replay` applies it to a
:class:`~analysis.annotation.model.Coding` (which saves it) and empties the journal.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.annotation.model import Coding

FIELDS = ("notes", "aus")


def default_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("mexlab")) / "annotation-journal"


class Journal:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fh = None

    @classmethod
    def for_session(cls, catalog: str | None, session_id: str, coder: str, folder: Path | None = None) -> Journal:
        key = hashlib.sha1(f"{catalog or ''}\n{session_id}\n{coder}".encode()).hexdigest()[:20]
        return cls(Path(folder or default_dir()) / f"{key}.jsonl")

    def _append(self, rec: dict) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def write(self, uid: str, field: str, value: str) -> None:
        """One keystroke: ``field`` of event ``uid`` is now ``value`` (not saved yet)."""
        self._append({"uid": uid, "field": field, "value": value, "at": time.time()})

    def saved(self, uid: str, field: str) -> None:
        """The catalog holds what was typed in ``field`` of ``uid``."""
        self._append({"uid": uid, "field": field, "saved": True})

    def pending(self) -> dict[tuple[str, str], str]:
        """``{(uid, field): value}`` typed and not saved (the last value of each)."""
        out: dict[tuple[str, str], str] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                r = json.loads(line)
                k = (r["uid"], r["field"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by the crash
            if r.get("saved"):
                out.pop(k, None)
            elif "value" in r and r["field"] in FIELDS:
                out[k] = str(r["value"])
        return out

    def clear(self) -> None:
        self.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def replay(journal: Journal, coding: Coding) -> list[str]:
    """Apply what the journal holds unsaved to ``coding`` (each change saved through its
    ``on_change``), then empty the journal. Returns a line per change made or refused."""
    from acquisition.errors import MexlabError

    done = []
    for (uid, field), value in journal.pending().items():
        e = coding.events.get(uid)
        if e is None:
            done.append(f"{field} of event {uid[:8]} not restored: the event is gone")
            continue
        if getattr(e, field) == value:
            continue
        try:
            coding.update(uid, **{field: value})
            done.append(f"restored {field} of event {e.onset}-{e.offset} typed before a crash")
        except MexlabError as exc:
            done.append(f"{field} of event {uid[:8]} not restored: {exc}")
    journal.clear()
    return done


class TypedText:
    """The notes and AU fields as the coder types them (the view debounces the save): every
    keystroke is journaled first; the notes are saved to the event they were typed for, even when
    another event is selected by then; a field the catalog holds is marked saved in the journal."""

    def __init__(self, journal: Journal, coding: Coding):
        self.journal, self.coding = journal, coding
        self.notes_uid: str | None = None  # the event whose notes await their save

    def typed(self, uid: str, field: str, text: str) -> bool:
        """A keystroke in ``field`` of event ``uid``; True when the notes' save is due (debounced)."""
        self.journal.write(uid, field, text)
        if field == "notes":
            self.notes_uid = uid
            return True
        return False

    def save_notes(self, shown: tuple[str, str] | None = None) -> bool:
        """Save the notes awaiting their save; ``shown``: (uid, text) in the notes field now (else
        the journal's text is saved). True when the coding changed; MexlabError when refused (the
        text stays in the journal)."""
        uid, self.notes_uid = self.notes_uid, None
        if uid is None or uid not in self.coding.events:
            return False
        text = shown[1] if (shown is not None and shown[0] == uid) else self.journal.pending().get((uid, "notes"))
        if text is None:
            return False
        changed = self.coding.events[uid].notes != text
        if changed:
            self.coding.update(uid, notes=text)
        now = self.coding.events.get(uid)
        if now is not None and now.notes == text:
            self.journal.saved(uid, "notes")
        return changed

    def aus_saved(self, uid: str, typed: str) -> bool:
        """After the AU field was applied: mark it saved when event ``uid`` holds the typed AUs
        (text that is not AUs yet stays in the journal until corrected)."""
        from acquisition.errors import MexlabError
        from analysis.annotation.model import format_aus

        now = self.coding.events.get(uid)
        if now is None:
            return False
        try:
            same = now.aus == format_aus(typed)
        except MexlabError:
            return False
        if same:
            self.journal.saved(uid, "aus")
        return same
