"""The one error a protocol file, its conditions tables or its stimuli can raise."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from acquisition.errors import FileFormatError


class ProtocolError(FileFormatError):
    """A protocol that cannot be run as written: the message names the file, the line and the field.

    A :class:`~acquisition.errors.FileFormatError` (and so a ``MexlabError``): the protocol file, a
    conditions table or a stimulus is not what it should be."""


def where(path: Path | str, line: int | None = None, field: str | None = None) -> str:
    """``FILE, line N, field 'a.b[2].c'`` (parts that are unknown are left out)."""
    out = str(path)
    if line:
        out += f", line {line}"
    if field:
        out += f", field '{field}'"
    return out


def field_path(parts: Iterable[str | int]) -> str:
    """``('blocks', 0, 'trials', 'steps', 2)`` -> ``blocks[0].trials.steps[2]``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
