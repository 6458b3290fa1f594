"""A session's report, kept: re-opening the analysis of a session that has not changed reads it back
instead of computing it again (the Analyze workspace's Physiology tab, ``mexlab report``).

Two entries, both in the session's ``analysis/`` folder (next to a plain XDF file:
``<file>.report-….cache``), each written by temp-and-rename:

* ``report-session.<p>.cache``: the :class:`analysis.study.SessionResult` of
  :func:`analysis.study.analyse_session` for the parameters ``p`` (stream names, windows,
  ``use_truth``). Its key: the session folder's path, the size and modification time of every file
  of the session (the videos, the XDF, session.json, ground truth, responses, and
  ``analysis/spotting.json`` and ``recognition.json``), the parameters, a digest of the source of
  the code that computes it and the versions of the libraries in it. Any of them changed: stale,
  computed again and the entry replaced.
* ``report-timeline.cache``: the session's timeline (:func:`analysis.report.plots.timeline_figure`)
  as the Figure the GUI embeds and as the PNG the HTML report embeds; its key is a digest of the
  SessionResult it was drawn from and of the plotting code.

An entry is a pickle, so it is read back only when it carries the HMAC of this user's secret
(``report-cache.secret`` in mexlab's config folder, made on first use): an entry copied from
elsewhere, or edited, is never unpickled, just recomputed. A cache that cannot be read or written
(read-only media, no config folder) only costs the time: it never fails an analysis.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.physio.events import Windows
    from analysis.study import SessionResult

VERSION = 1
MAGIC = b"mexlab-report-cache\n"
SESSION_CODE = (
    "analysis/study.py",
    "analysis/physio",
    "analysis/session_data.py",
    "analysis/stats",
    "acquisition/session_read",
    "acquisition/session.py",
    "acquisition/check.py",
    "acquisition/check_video.py",
    "acquisition/health.py",
    "acquisition/catalog/responses.py",
)
PLOT_CODE = ("analysis/report/plots.py",)
LIBRARIES = ("numpy", "scipy", "pandas", "neurokit2", "matplotlib")
KEY_ATTR = "_report_cache_key"  # set on a SessionResult by analyse_session: the key it was made for
ANALYSIS_INPUTS = ("spotting.json", "recognition.json")  # of analysis/: what the session's analysis reads

_digests: dict[tuple, str] = {}


@dataclass
class Stats:
    """Hits and misses of this process (tests and the benchmark read them)."""

    session_hits: int = 0
    session_misses: int = 0
    timeline_hits: int = 0
    timeline_misses: int = 0


STATS = Stats()


def _code_digest(parts: tuple[str, ...]) -> str:
    if parts not in _digests:
        from importlib.metadata import PackageNotFoundError, version

        root = Path(__file__).resolve().parents[2]
        h = hashlib.sha256(f"v{VERSION}".encode())
        for rel in parts:
            p = root / rel
            for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
                if f.is_file():
                    h.update(f.relative_to(root).as_posix().encode())
                    h.update(f.read_bytes())
        for lib in LIBRARIES:
            try:
                h.update(f"{lib}={version(lib)};".encode())
            except PackageNotFoundError:
                h.update(f"{lib}=-;".encode())
        _digests[parts] = h.hexdigest()
    return _digests[parts]


def _folder(path: Path) -> Path:
    """Where the entries of ``path`` go: the session's analysis/ folder (a file's own folder)."""
    return path / "analysis" if path.is_dir() else path.parent


def _entry(path: Path, name: str) -> Path:
    return _folder(path) / name if path.is_dir() else path.with_name(f"{path.name}.{name}")


def input_files(path: Path) -> list[Path]:
    """The files a session's analysis reads: every file of the session folder (not the hidden
    ones) and analysis/spotting.json and recognition.json; for a plain file, it and the files
    next to it named after it (``<xdf>.spotting.json``, …), not the cache's own."""
    path = Path(path)
    if path.is_dir():
        files = [f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")]
        files += [path / "analysis" / n for n in ANALYSIS_INPUTS]
    else:
        files = [path] + [
            f
            for f in path.parent.glob(f"{path.name}.*")
            if f.is_file() and ".report-" not in f.name and not f.name.endswith((".key", ".tmp"))
        ]
    return sorted(files)


def _stat_key(files: list[Path]) -> list:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append([f.name if f.parent.name != "analysis" else f"analysis/{f.name}", st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([f.name, None, None])  # absent: appearing later makes the entry stale
    return out


def session_key(path: Path, params: dict) -> str:
    """The key of a session's analysis now (module doc)."""
    path = Path(path).resolve()
    blob = json.dumps(
        [str(path), _stat_key(input_files(path)), params, _code_digest(SESSION_CODE)], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# --- the secret and the file format ---------------------------------------------------------


def _secret() -> bytes | None:
    """This user's secret for the entries' HMAC (made on first use); None when it cannot be kept."""
    import platformdirs

    env = os.environ.get("MEXLAB_CONFIG_DIR")
    folder = Path(env) if env else Path(platformdirs.user_config_dir("mexlab"))
    f = folder / "report-cache.secret"
    try:
        data = f.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    try:  # made owner-only from its first byte (0600 at creation), then renamed into place
        folder.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, f)
        return f.read_bytes()
    except OSError:
        return None


def _read(entry: Path, key: str) -> Any | None:
    """The payload of ``entry`` when its key is ``key`` and its HMAC is right; else None."""
    try:
        with open(entry, "rb") as fh:
            if fh.readline() != MAGIC:
                return None
            head = json.loads(fh.readline())
            if head.get("key") != key:
                return None  # stale: not even unpickled
            secret = _secret()
            payload = fh.read()
        if secret is None or not hmac.compare_digest(
            hmac.new(secret, payload, hashlib.sha256).hexdigest(), str(head.get("hmac"))
        ):
            return None
        return pickle.loads(payload)  # noqa: S301 - written by this user (the HMAC above)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        return None


def _write(entry: Path, key: str, obj: Any) -> bool:
    from acquisition.atomic import atomic_write

    secret = _secret()
    if secret is None:
        return False
    try:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        head = {"key": key, "hmac": hmac.new(secret, payload, hashlib.sha256).hexdigest(), "version": VERSION}
        entry.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(entry, "wb") as fh:  # the header, then the payload: no joined copy
            fh.write(MAGIC + json.dumps(head).encode() + b"\n")
            fh.write(payload)
        return True
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return False  # read-only media or an object that does not pickle: computed next time too


# --- the entries ------------------------------------------------------------------------------


def _params(names: dict | None, windows: Windows | None, use_truth: bool) -> dict:
    from dataclasses import asdict, is_dataclass

    w = asdict(windows) if windows is not None and is_dataclass(windows) else repr(windows)
    return {"names": dict(sorted((names or {}).items())), "windows": w, "use_truth": bool(use_truth)}


def analyse_session(
    path: str | Path, *, names: dict | None = None, windows: Windows | None = None, use_truth: bool = False
) -> SessionResult:
    """:func:`analysis.study.analyse_session`, read back from the session's entry when current
    (module doc); computed and stored otherwise. Errors are those of the analysis (none kept)."""
    from analysis.physio.events import Windows
    from analysis.study import analyse_session as compute

    path = Path(path)
    windows = windows if windows is not None else Windows()
    params = _params(names, windows, use_truth)
    key = session_key(path, params)
    tag = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:10]
    entry = _entry(path, f"report-session.{tag}.cache")
    sr = _read(entry, key)
    if sr is not None:
        STATS.session_hits += 1
    else:
        STATS.session_misses += 1
        sr = compute(path, names=names, windows=windows, use_truth=use_truth)
        if session_key(path, params) == key:  # nothing changed while it ran
            _write(entry, key, sr)
    sr.__dict__[KEY_ATTR] = key  # the timeline's key (travels with it, e.g. back from a worker)
    return sr


class _HashSink:
    """A file for :class:`pickle.Pickler` that only feeds a hash: the digest of an hour's
    SessionResult without its pickle (tens of MB) in memory."""

    def __init__(self, h: Any):
        self.h = h

    def write(self, b: bytes | memoryview) -> int:
        self.h.update(b)
        return len(b)


def _result_digest(sr: SessionResult) -> str | None:
    """The timeline's key: the key of the session's entry when ``sr`` came from
    :func:`analyse_session`, else a digest of ``sr`` itself; with the plotting code's digest."""
    base = sr.__dict__.get(KEY_ATTR)
    if base is None:
        try:
            h = hashlib.sha256()
            pickle.Pickler(_HashSink(h), protocol=pickle.HIGHEST_PROTOCOL).dump(sr)  # no copy of the arrays
            base = h.hexdigest()
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return None
    return hashlib.sha256((base + _code_digest(PLOT_CODE)).encode()).hexdigest()


def _timeline_entry(sr: SessionResult) -> Path | None:
    path = getattr(sr.session, "folder", None) or getattr(sr.session, "path", None)
    return _entry(Path(path), "report-timeline.cache") if path else None


def timeline(sr: SessionResult, *, png: bool = False) -> tuple[Figure, bytes | None]:
    """The session's timeline figure (and its PNG when ``png``), read back when drawn from the
    same SessionResult with the same plotting code, else drawn and stored."""
    from analysis.report.plots import timeline_figure, to_png

    entry, key = _timeline_entry(sr), _result_digest(sr)
    got = _read(entry, key) if entry is not None and key is not None else None
    if got is not None and (got.get("png") is not None or not png):
        STATS.timeline_hits += 1
        return got["figure"], got.get("png")
    STATS.timeline_misses += 1
    fig = got["figure"] if got is not None else timeline_figure(sr)
    data = to_png(fig) if png else None
    if entry is not None and key is not None:
        _write(entry, key, {"figure": fig, "png": data})
    return fig, data


def timeline_png(sr: SessionResult) -> bytes:
    """The PNG of the session's timeline (the HTML report's image), kept like :func:`timeline`."""
    return timeline(sr, png=True)[1]


def session_report(path: str | Path, **kw: Any) -> tuple[SessionResult, Figure]:
    """(SessionResult, timeline figure) of a session: what the Analyze workspace's Physiology tab
    shows, both read back when current."""
    sr = analyse_session(path, **kw)
    return sr, timeline(sr)[0]
