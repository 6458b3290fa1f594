"""Where protocols are found: the built-in library and the user's folders.

A protocol is named by its file name without ``.yaml``/``.yml``. Folders are searched in this order,
and the first file with the name wins: every folder in ``MEXLAB_PROTOCOLS`` (separated by ``:``, ``;`` on
Windows), then ``<user data dir>/mexlab/protocols``, then the built-in library (``protocols/library``).
A user's copy of a built-in protocol therefore replaces it; ``mexlab protocols list`` shows which.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from protocols.errors import ProtocolError

LIBRARY = Path(__file__).resolve().parent / "library"
SUFFIXES = (".yaml", ".yml")


def user_folder() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("mexlab")) / "protocols"


def search_folders() -> list[tuple[str, Path]]:
    """(origin, folder) in search order; origin is ``MEXLAB_PROTOCOLS``, ``user`` or ``built-in``."""
    out = [
        ("MEXLAB_PROTOCOLS", Path(p).expanduser())
        for p in os.environ.get("MEXLAB_PROTOCOLS", "").split(os.pathsep)
        if p.strip()
    ]
    out.append(("user", user_folder()))
    out.append(("built-in", LIBRARY))
    return out


@dataclass
class Entry:
    name: str
    path: Path
    origin: str
    shadowed_by: Path | None = None


def list_protocols() -> list[Entry]:
    """Every protocol file in every folder, in search order (later files of one name are shadowed)."""
    entries, first = [], {}
    for origin, folder in search_folders():
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in SUFFIXES and p.is_file():
                e = Entry(p.stem, p, origin)
                if p.stem in first:
                    e.shadowed_by = first[p.stem]
                else:
                    first[p.stem] = p
                entries.append(e)
    return entries


def find_protocol(name_or_file: str) -> Path:
    """A path to an existing file, or the first protocol of that name in the search folders."""
    p = Path(name_or_file).expanduser()
    if p.suffix.lower() in SUFFIXES or os.sep in name_or_file or "/" in name_or_file:
        if not p.is_file():
            raise ProtocolError(f"{p}: no such protocol file")
        return p
    for _origin, folder in search_folders():
        for suf in SUFFIXES:
            cand = folder / f"{name_or_file}{suf}"
            if cand.is_file():
                return cand
    names = sorted({e.name for e in list_protocols() if e.shadowed_by is None})
    raise ProtocolError(
        f"no protocol named {name_or_file!r}; known: {', '.join(names) or 'none'} "
        f"('mexlab protocols list' shows where they are; a FILE.yaml path works too)"
    )
