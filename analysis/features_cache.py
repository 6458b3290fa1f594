"""Per-video feature cache, kept next to the video and keyed by the video's content.

The key is a fast content fingerprint — sha256 of the file size, the first and the last MiB — that
does not depend on the file's name or modification time: a copied or touched video still hits its
cache, a re-encoded or edited one does not. The extractor adds its own parameters and version to
the key, so a change of method never reuses stale features.

Cache files live in ``.mexlab-cache/`` beside the video (``<video>.<key>.npz``). A folder that cannot
be written (read-only media) simply means no cache; it is never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from acquisition.session_read.fingerprint import fingerprint
from acquisition.session_read.names import CACHE_DIR

__all__ = ["cache_key", "cache_path", "fingerprint", "load", "save"]


def cache_key(files: list, params: dict) -> str:
    """Key for features computed from ``files`` (paths or None) with ``params``."""
    h = hashlib.sha256()
    for f in files:
        h.update((fingerprint(f) if f is not None else "-").encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def cache_path(video: str | Path, key: str) -> Path:
    video = Path(video)
    return video.parent / CACHE_DIR / f"{video.name}.{key}.npz"


def load(video: str | Path, key: str) -> dict | None:
    """The cached arrays for ``video`` and ``key``, or None."""
    p = cache_path(video, key)
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a damaged cache file is ignored (and overwritten later)
        return None


def save(video: str | Path, key: str, arrays: dict) -> Path | None:
    """Write the cache atomically; returns its path, or None when the folder is not writable."""
    p = cache_path(video, key)
    tmp = None
    try:
        p.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, p)
        return p
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return None
