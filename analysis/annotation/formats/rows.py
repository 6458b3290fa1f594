"""One imported row made into an :class:`~analysis.annotation.model.Event`, checked against the
clip (frames inside the video, onset <= apex <= offset, a known type, AUs that parse), every error
naming the file, the row and the column; :func:`rows_checked` collects every bad row into one
message before anything is stored. Shared by the CSV, sheet and ELAN readers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from acquisition.errors import FileFormatError, MexlabError
from analysis.annotation.model import Event, derive_type, parse_aus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from analysis.annotation.clip import Clip

TYPE_WORDS = {
    "micro": "micro",
    "macro": "macro",
    "micro-expression": "micro",
    "macro-expression": "macro",
    "me": "micro",
    "mae": "macro",
}


def cell(row: Sequence[str], idx: dict[str, int], name: str) -> str:
    """The stripped cell of column ``name`` (``idx``: lower-case column name -> index); '' if absent."""
    i = idx.get(name.lower())
    return row[i].strip() if i is not None and i < len(row) else ""


def frame_number(
    path: str | Path,
    line: int | str,
    name: str,
    text: str,
    base: int = 0,
    required: bool = True,
    column: str | None = None,
) -> int | None:
    """The frame in ``text`` (counted from ``base`` in the file), 0-based; None when empty and not required."""
    column = column or name
    if text == "" or text.lower() in ("/", "-", "nan"):
        if required:
            raise FileFormatError(f"{path}: row {line}: no {name} frame (column {column!r})")
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or not value.is_integer() or abs(value) > 1e12:
        raise FileFormatError(f"{path}: row {line}: {name} {text!r} is not a frame number (column {column!r})")
    return int(value) - base


def type_of(text: str) -> str | None:
    """micro/macro of a type cell ('' when empty); None when it says something else. SAMM writes
    'Micro - 1/2' and 'Macro'."""
    t = (text or "").strip().lower()
    if not t:
        return ""
    if t in TYPE_WORDS:
        return TYPE_WORDS[t]
    head = t.replace("_", " ").split(" - ")[0].split()[0]
    return TYPE_WORDS.get(head)


def make_event(
    path: str | Path, line: int | str, clip: Clip, cols: dict[str, str] | None = None, base: int = 0, **kw: Any
) -> Event:
    """One row's event, checked against the clip: frames inside the video, onset <= apex <=
    offset, a known type. MexlabError naming the file, the row and the column otherwise."""
    cols = cols or {}
    col = lambda f: repr(cols.get(f, f))  # noqa: E731
    where = f"{path}: row {line}"
    try:
        parse_aus(kw.get("aus", ""))
    except MexlabError as exc:
        raise FileFormatError(f"{where}: column {col('aus')}: {exc}") from None
    onset, offset, apex = kw["onset"], kw["offset"], kw.get("apex")
    shown = lambda f: f + base  # noqa: E731 - frame numbers as the file writes them
    for name, f in (("onset", onset), ("apex", apex), ("offset", offset)):
        if f is not None and f < 0:
            raise FileFormatError(
                f"{where}: {name} frame {shown(f)} (column {col(name)}) is before the first frame ({base})"
            )
    if offset < onset:
        raise FileFormatError(
            f"{where}: onset {shown(onset)} (column {col('onset')}) is after offset "
            f"{shown(offset)} (column {col('offset')})"
        )
    n = clip.n_frames
    if n:
        for name, f in (("onset", onset), ("apex", apex), ("offset", offset)):
            if f is not None and f >= n:
                raise FileFormatError(
                    f"{where}: {name} frame {shown(f)} (column {col(name)}) is beyond the "
                    f"video ({n} frames: {base}..{n - 1 + base})"
                )
    if apex is not None and not onset <= apex <= offset:
        raise FileFormatError(
            f"{where}: apex {shown(apex)} (column {col('apex')}) is outside the event {shown(onset)}-{shown(offset)}"
        )
    conf = kw.get("confidence")
    if conf is not None and not (math.isfinite(conf) and 0.0 <= conf <= 1.0):
        raise FileFormatError(f"{where}: confidence {conf!r} (column {col('confidence')}) is not between 0 and 1")
    raw = kw.pop("type", "") or ""
    t = type_of(raw)
    if t is None:
        raise FileFormatError(
            f"{where}: type {raw.strip()!r} (column {col('type')}) is not micro or macro "
            f"(leave it empty to derive it from the duration)"
        )
    kw = {k: v for k, v in kw.items() if v not in (None, "") or k in ("apex",)}
    try:
        if t:
            return Event(type=t, type_overridden=t != derive_type(onset, offset, clip.fps), **kw)
        return Event(**kw).retyped(clip.fps)
    except MexlabError as exc:
        raise FileFormatError(f"{where}: {exc}") from None


def rows_checked(path: str | Path, rows: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run ``rows`` (callables giving an event) and collect every row's error: one message naming
    each bad row (the first eight), raised before anything is stored."""
    out, errors = [], []
    for make in rows:
        try:
            out.append(make())
        except MexlabError as exc:
            errors.append(str(exc).removeprefix(f"{path}: "))
    if len(errors) == 1:
        raise FileFormatError(f"{path}: {errors[0]}; nothing imported")
    if errors:
        more = f"; and {len(errors) - 8} more" if len(errors) > 8 else ""
        raise FileFormatError(f"{path}: {len(errors)} bad row(s), nothing imported: {'; '.join(errors[:8])}{more}")
    return out
