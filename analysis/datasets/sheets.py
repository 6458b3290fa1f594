"""Coding sheets of the public releases: .xlsx (openpyxl), .csv, and .xls only when xlrd is installed.

Sheets carry preambles (SAMM) and blank columns (CASME II): :func:`find_header` looks for the first
row holding every required column (case, spaces and punctuation ignored), never a fixed row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from acquisition.errors import FileFormatError, InputError, InstallError, MexlabError, NotFoundError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_NUM = re.compile(r"(\d+)$")


def norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _xlsx_sheets(path: Path, *, first_only: bool) -> list[tuple[str, list[list[str]]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = wb.worksheets[:1] if first_only else wb.worksheets
        return [(ws.title, [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]) for ws in sheets]
    finally:
        wb.close()


def read_rows(path: Path) -> list[list[str]]:
    """Every row of the first worksheet (or CSV) as text cells."""
    suf = path.suffix.lower()
    try:
        if suf == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                return [[c.strip() for c in r] for r in csv.reader(fh)]
        if suf in (".xlsx", ".xlsm"):
            return _xlsx_sheets(path, first_only=True)[0][1]
        if suf == ".xls":
            try:
                import xlrd
            except ImportError:
                raise InstallError(
                    f"{path}: reading .xls needs the xlrd package, which is not "
                    f"installed; open the sheet and save it as .xlsx next to it "
                    f"(or pip install xlrd)"
                ) from None
            book = xlrd.open_workbook(str(path))
            sh = book.sheet_by_index(0)
            return [[_cell(sh.cell_value(r, c)) for c in range(sh.ncols)] for r in range(sh.nrows)]
    except MexlabError:
        raise
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read the sheet ({exc})") from None
    raise FileFormatError(f"{path}: not a sheet mexlab reads (.xlsx, .csv, .xls)")


def read_workbook(path: Path) -> list[tuple[str, list[list[str]]]]:
    """Every worksheet of an .xlsx as ``(name, rows of text cells)`` (a CSV: one sheet, its file name);
    for releases whose sheet spreads over several worksheets (CAS(ME)^2's naming rules)."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return [(path.name, read_rows(path))]
    try:
        return _xlsx_sheets(path, first_only=False)
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read the sheet ({exc})") from None


def find_header(
    rows: list[list[str]],
    columns: dict[str, tuple[str, ...]],
    path: Path,
    optional: dict[str, tuple[str, ...]] | None = None,
) -> tuple[int, dict[str, int]]:
    """``(header row index, {field: column index})``: the first row with every required column.
    ``columns``: field → accepted spellings (normalised with :func:`norm`)."""
    optional = optional or {}
    best, best_missing = None, None
    for i, row in enumerate(rows[:200]):
        cells = [norm(c) for c in row]
        col = {}
        for f, names in {**columns, **optional}.items():
            for n in names:
                if norm(n) in cells:
                    col[f] = cells.index(norm(n))
                    break
        missing = [f for f in columns if f not in col]
        if not missing:
            return i, col
        if sum(1 for c in cells if c) >= 2 and (best_missing is None or len(missing) < len(best_missing)):
            best, best_missing = i, missing
    if best is None:
        raise FileFormatError(f"{path}: no header row found (need columns {', '.join(columns[f][0] for f in columns)})")
    raise FileFormatError(
        f"{path}: missing column(s) {', '.join(columns[f][0] for f in best_missing)} (closest header: row {best + 1})"
    )


def sheet_rows(rows: list[list[str]], header: int, col: dict[str, int]) -> Iterator[tuple[int, Callable[[str], str]]]:
    """The sheet's data rows after its header, as ``(row number as the sheet shows it, get)`` where
    ``get(field)`` is the row's stripped cell for that field ('' when the column or cell is absent);
    rows with neither a subject nor a file name are left out."""
    for r, row in enumerate(rows[header + 1 :], start=header + 2):

        def get(field: str, row: list[str] = row) -> str:
            i = col.get(field)
            return row[i].strip() if i is not None and i < len(row) else ""

        if get("subject") or get("filename"):
            yield r, get


def frame_number(path: Path) -> int | None:
    m = _NUM.search(path.stem)
    return int(m.group(1)) if m else None


def image_frames(folder: Path) -> dict[int, str]:
    """frame number (the last number in the file name) → path, for the images in ``folder``."""
    out: dict[int, str] = {}
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES:
            k = frame_number(p)
            if k is not None:
                out[k] = str(p)
    return out


def find_sheet(root: Path, patterns: tuple[str, ...], what: str) -> Path:
    for pat in patterns:
        hits = sorted(p for p in root.rglob(pat) if p.is_file() and not p.name.startswith("~$"))
        if hits:
            xlsx = [p for p in hits if p.suffix.lower() != ".xls"]
            return xlsx[0] if xlsx else hits[0]
    raise NotFoundError(f"{root}: no {what} coding sheet found (looked for {', '.join(patterns)})")


def to_int(value: str, path: Path, row: int, field: str) -> int:
    try:
        f = float(str(value).strip())
        if not f.is_integer():
            raise ValueError
        return int(f)
    except ValueError:
        raise FileFormatError(f"{path}, row {row}: {field} {value!r} is not a frame number") from None


def check_root(root: str) -> Path:
    p = Path(root).expanduser()
    if not p.exists():
        raise NotFoundError(f"{p}: no such folder")
    if not p.is_dir():
        raise InputError(f"{p}: not a folder")
    return p
