"""Rows in and out of table files (CSV or xlsx), the layer every tabular coding format shares:
:func:`read_table` finds the header row (the first with an onset column; title rows above it are
skipped), :func:`write_rows` writes by temp-and-rename so a failed export leaves the earlier file
whole. The row cells' meaning: :mod:`.rows`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from acquisition.atomic import atomic_write
from acquisition.errors import FileFormatError, NotFoundError


def read_table(path: Path) -> list[list[str]]:
    """Rows of a CSV or xlsx file, from its header row on (title rows above it are skipped)."""
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook
            raise FileFormatError(f"{path}: not a readable xlsx workbook ({exc})") from None
        rows = [
            ["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)) for v in r]
            for r in wb.worksheets[0].iter_rows(values_only=True)
        ]
        wb.close()
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from None
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
    for i, r in enumerate(rows):
        low = {c.strip().lower() for c in r}
        if low & {"onset", "onsetframe", "onset frame"}:
            return [[c.strip() for c in r] for r in rows[i:] if any(c.strip() for c in r)]
    raise FileFormatError(f"{path}: no header row with an onset column (onset, OnsetFrame or Onset Frame)")


def write_rows(path: Path, header: list[str], rows: list[list]) -> None:
    """``header`` and ``rows`` as xlsx (the name ends in .xlsx) or CSV, by temp-and-rename."""
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(header)
        for r in rows:
            ws.append(r)
        buf = io.BytesIO()  # built in memory, then written by temp-and-rename: a killed or
        wb.save(buf)  # failed export leaves the earlier file whole
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
        return
    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
