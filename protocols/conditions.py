"""Conditions tables: a CSV file with a header row of variable names, one trial per row.

Read when a protocol is loaded (a fixed table) and when a participant's run is planned (a table
whose name holds ``{variables}``, chosen per counterbalancing group).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from protocols.errors import ProtocolError, where
from protocols.model import Conditions

MAX_FILE_BYTES = 4 << 20  # a protocol file or conditions table is kilobytes

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_conditions(csv_path: Path, proto_path: Path, line: int | None, fpath: str) -> Conditions:
    """A conditions table: a CSV file with a header row of variable names, one trial per row."""
    if not csv_path.is_file():
        raise ProtocolError(f"{where(proto_path, line, fpath)}: conditions file {csv_path} does not exist")
    if csv_path.stat().st_size > MAX_FILE_BYTES:
        raise ProtocolError(
            f"{csv_path}: {csv_path.stat().st_size / 2**20:.1f} MB is far more than a conditions "
            f"table holds (limit {MAX_FILE_BYTES >> 20} MB); not read"
        )
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ProtocolError(f"{csv_path}: cannot be read as a CSV table ({exc})") from None
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise ProtocolError(f"{csv_path}: the conditions table is empty (it needs a header row and one row per trial)")
    head_line, header = numbered[0]
    header = [h.strip() for h in header]
    for h in header:
        if not _IDENT.match(h):
            raise ProtocolError(
                f"{csv_path}, line {head_line}: column name {h!r} is not a variable name "
                f"(letters, digits, '_', not starting with a digit)"
            )
    if len(set(header)) != len(header):
        raise ProtocolError(f"{csv_path}, line {head_line}: a column name appears twice")
    out, out_lines = [], []
    for ln, r in numbered[1:]:
        if len(r) != len(header):
            raise ProtocolError(
                f"{csv_path}, line {ln}: {len(r)} values for {len(header)} columns ({', '.join(header)})"
            )
        out.append({h: v.strip() for h, v in zip(header, r)})
        out_lines.append(ln)
    if not out:
        raise ProtocolError(f"{csv_path}: the conditions table has a header but no rows")
    return Conditions(out, str(csv_path), out_lines)
