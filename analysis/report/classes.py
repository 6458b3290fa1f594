"""Recognised micro-expressions per class and paradigm, for the study report.

Each session folder's ``analysis/recognition.json`` (written by ``mexlab recognize``; see
docs/recognition.md) lists its spotted micro-expressions with their class. Counts are per paradigm
(the session's protocol) and class, with the models that made them (file name and sha256, so
numbers from different models are never mixed silently) and the sessions that have no recognition
result yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.session_read.names import RECOGNITION_FILE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from analysis.session_data import SessionData

NO_PROTOCOL = "(no protocol)"


@dataclass
class ClassCounts:
    classes: list[str] = field(default_factory=list)  # in first-seen order
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # paradigm -> class -> n
    sessions: dict[str, int] = field(default_factory=dict)  # paradigm -> sessions counted
    models: dict[str, str] = field(default_factory=dict)  # sha256 -> model file name
    missing: list[str] = field(default_factory=list)  # sessions without a result
    problems: list[str] = field(default_factory=list)  # unreadable result files

    def total(self, paradigm: str) -> int:
        return sum(self.counts.get(paradigm, {}).values())


def read_recognition(folder: Path) -> dict | None:
    """A session's ``analysis/recognition.json`` (None when absent); ValueError when unreadable."""
    f = Path(folder) / RECOGNITION_FILE
    if not f.is_file():
        return None
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{f}: not readable ({exc})") from None
    if not isinstance(d, dict) or not isinstance(d.get("expressions"), list):
        raise ValueError(f"{f}: no 'expressions' list")
    return d


def class_counts(sessions: Iterable[SessionData]) -> ClassCounts:
    """``sessions``: objects with ``folder``, ``label`` and ``protocol`` (analysis.session_data
    sessions; a session read from a bare XDF file has no folder and is listed as missing)."""
    out = ClassCounts()
    for s in sessions:
        if s.folder is None:
            out.missing.append(s.label)
            continue
        try:
            d = read_recognition(s.folder)
        except ValueError as exc:
            out.problems.append(str(exc))
            continue
        if d is None:
            out.missing.append(s.label)
            continue
        par = s.protocol or NO_PROTOCOL
        row = out.counts.setdefault(par, {})
        out.sessions[par] = out.sessions.get(par, 0) + 1
        for c in d.get("classes") or []:
            if c not in out.classes:
                out.classes.append(str(c))
        for e in d["expressions"]:
            c = str(e.get("class"))
            if c not in out.classes:
                out.classes.append(c)
            row[c] = row.get(c, 0) + 1
        if d.get("model_sha256"):
            out.models[str(d["model_sha256"])] = Path(str(d.get("model") or "?")).name
    return out
