"""A fast content fingerprint of a recorded file: sha256 of its size, its first and its last MiB.

What the caches beside a session's files are keyed on (the spotting features of a video, the
streams of an XDF): independent of the file's name and modification time, so a copied session
keeps its caches, and a file that grew or was replaced gets new ones. A file changed only in its
middle, at the same size, is not told apart (a recorded file is never rewritten that way)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def fingerprint(path: str | Path) -> str:
    """sha256 (hex) of size + first MiB + last MiB of ``path``."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(CHUNK))
        if size > CHUNK:
            fh.seek(max(CHUNK, size - CHUNK))
            h.update(fh.read(CHUNK))
    return h.hexdigest()
