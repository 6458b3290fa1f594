"""Write files by temp-and-rename: a reader (or a crash, a kill, a full disk) sees the old file or
the new one, never half of one, and an existing good file is never lost to a failed write.

``atomic_write(path)`` gives an open text/binary handle; ``atomic_path(path)`` gives a temporary
path in the same folder for libraries that write by name (openpyxl, ElementTree, numpy). Either
renames over ``path`` only when the block ends without an exception; otherwise the temporary file
is removed and ``path`` is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _tmp_in(path: Path) -> str:
    # same folder (same file system), so os.replace is one atomic rename; the suffix is kept so
    # writers that choose their format from the extension (openpyxl, cv2) still see it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    try:  # mkstemp makes it 0600; give it the mode the file has, or a new file would get
        os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
    except OSError:
        pass
    os.close(fd)
    return tmp


def _umask() -> int:
    try:  # read, not set: os.umask() would change the process for a moment
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed over ``path`` when the block succeeds."""
    path = Path(path)
    tmp = _tmp_in(path)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


@contextmanager
def atomic_write(
    path: Path | str, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """``open(path, mode)`` written to a temporary file and renamed over ``path`` on success."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", encoding=encoding) as fh:
        fh.write(text)


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def check_out_file(
    path: Path | str,
    suffixes: tuple[str, ...],
    *,
    flag: str = "--out",
    what: str = "file",
    parent_must_exist: bool = True,
) -> Path:
    """Where a command will write one file, checked before any work is done: not a folder, in a
    folder that exists (unless the writer makes it), and an existing file there is replaced only
    when it is of the kind the command writes (one of ``suffixes``, lower case with the dot) and
    not one of a session folder's own files (a file beside its ``session.json``; results go to
    ``<session>/analysis``). OutputError naming the path (and ``flag``) otherwise."""
    from acquisition.errors import OutputError

    p = Path(path)
    name = f"{flag} {p}" if flag else str(p)
    if p.is_dir():
        raise OutputError(f"{name}: is a folder; give the path of the {what} to write")
    if parent_must_exist and not p.parent.is_dir():
        raise OutputError(f"{name}: the folder {p.parent} does not exist")
    if p.exists() or p.is_symlink():
        if (p.parent / "session.json").is_file():
            raise OutputError(
                f"{name}: is one of the session folder's own files; mexlab does not replace it "
                "(choose a path outside the session folder, or in its analysis folder)"
            )
        if p.suffix.lower() not in suffixes:
            raise OutputError(
                f"{name}: exists and is not a {' / '.join(suffixes)} file; mexlab does not replace it "
                "(choose another name)"
            )
    return p


def check_out_folder(path: Path | str, *, flag: str = "--out") -> Path:
    """A folder a command fills with files of its own (samples, a dataset release, a federated
    run): never a session folder (one holding a ``session.json``), whose files are the recording's.
    OutputError naming it otherwise."""
    from acquisition.errors import OutputError

    p = Path(path)
    if (p / "session.json").is_file():
        raise OutputError(
            f"{flag} {p}: is a session folder; mexlab does not write other files into it (choose another folder)"
        )
    if p.exists() and not p.is_dir():
        raise OutputError(f"{flag} {p}: is a file, not a folder")
    return p
