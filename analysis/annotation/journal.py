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
                continue             # a line cut by the crash
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


def replay(journal: Journal, coding) -> list[str]:
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
