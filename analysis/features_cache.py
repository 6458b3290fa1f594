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
import mmap
import os
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

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


#: Members read as a memory map rather than into memory (only what is asked for is read): the face
#: model's landmarks, half of a video's features, which only a few consumers look at, row by row,
#: and the rigid head flow, which only spotting without interference elimination reads.
MAPPED = ("kf_landmarks", "head_flow")


def load(video: str | Path, key: str) -> dict | None:
    """The cached arrays for ``video`` and ``key``, or None. The members in :data:`MAPPED` are
    read-only memory maps of the cache file."""
    p = cache_path(video, key)
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            out = {k: _mapped(p, z.zip, k) if k in MAPPED else None for k in z.files}
            return {k: z[k] if v is None else v for k, v in out.items()}
    except Exception:  # a damaged cache file is ignored (and overwritten later)
        return None


def _mapped(path: Path, zf: zipfile.ZipFile, name: str) -> np.ndarray | None:
    """Member ``name`` of the .npz ``path`` as a read-only memory map, when it is stored
    uncompressed (as np.savez and :func:`save` store it); None otherwise."""
    info = zf.getinfo(name + ".npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)  # the zip local file header: its name and extra field lengths at 26..30
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            return None
        n_name, n_extra = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + n_name + n_extra)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            return None
        offset = fh.tell()
    if dtype.hasobject or offset + dtype.itemsize * int(np.prod(shape)) > path.stat().st_size:
        return None
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def write_npz(fh: BinaryIO, arrays: dict) -> None:
    """``arrays`` as an uncompressed .npz into the open binary file ``fh`` (what np.savez writes). An
    array that is a whole memory-mapped file (a spilled or cached member) is copied from its file in
    pieces rather than through its map, so writing it does not bring it into memory."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for k, v in arrays.items():
            with zf.open(f"{k}.npy", "w", force_zip64=True) as out:
                src = _file_of(v)
                if src is None:
                    np.lib.format.write_array(out, np.asanyarray(v), allow_pickle=False)
                    continue
                np.lib.format.write_array_header_2_0(out, np.lib.format.header_data_from_array_1_0(v))
                with open(src[0], "rb") as f:
                    f.seek(src[1])
                    left = v.nbytes
                    while left > 0:
                        chunk = f.read(min(left, 1 << 22))
                        if not chunk:
                            raise OSError(f"{src[0]}: shorter than its map")
                        out.write(chunk)
                        left -= len(chunk)


def _file_of(v) -> tuple[str, int] | None:
    """(file, offset) of an array that is a whole np.memmap (not a view into one)."""
    if not isinstance(v, np.memmap) or not isinstance(v.base, mmap.mmap) or not v.filename:
        return None
    if not v.flags.c_contiguous or v.dtype.hasobject:
        return None
    return v.filename, int(v.offset)


def save(video: str | Path, key: str, arrays: dict) -> Path | None:
    """Write the cache atomically; returns its path, or None when the folder is not writable."""
    p = cache_path(video, key)
    tmp = None
    try:
        p.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            write_npz(fh, arrays)
        os.replace(tmp, p)
        return p
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return None
