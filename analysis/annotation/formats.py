"""Exchange of codings: MEGC / CAS(ME)² sheet, CASME II coding sheet, SAMM, ELAN .eaf, plain CSV.

| format | columns | frames |
|---|---|---|
| ``csv`` | coder, uid, onset, apex, offset, type, aus, emotion, confidence, notes, status, source | 0-based |
| ``megc`` | Subject, Video, Onset, Apex, Offset, AUs, Emotion, Type | 1-based |
| ``casme2`` | Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion | 1-based |
| ``samm`` | Subject, Filename, Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Type, Action Units, Estimated Emotion, Notes | 1-based |
| ``eaf`` | ELAN 3.0: tiers ``<coder>/event`` (value: type), ``/apex``, ``/AUs``, ``/emotion``, ``/confidence``, ``/notes``; time slots in ms from the first frame's timestamp | — |

The sheets (megc, casme2, samm) are written as xlsx (openpyxl) when the file name ends in .xlsx,
else as CSV; they hold one coder. Frame numbers are 1-based in the sheets, as the image numbers
of the public datasets are; mexlab (and its plain CSV) counts from 0.
Plain CSV import needs only onset and offset; apex, type (derived from the duration when absent),
aus (``AU4+AU7``), emotion, confidence and notes are optional.
"""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from acquisition.atomic import atomic_path, atomic_write
from acquisition.errors import MexlabError
from analysis.annotation.clip import Clip
from analysis.annotation.model import Event, derive_type, parse_aus

FORMATS = ("megc", "casme2", "samm", "eaf", "csv")
CSV_COLUMNS = ["coder", "uid", "onset", "apex", "offset", "type", "aus", "emotion", "confidence",
               "notes", "status", "source"]
SHEETS = {
    "megc": ["Subject", "Video", "Onset", "Apex", "Offset", "AUs", "Emotion", "Type"],
    "casme2": ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
               "Estimated Emotion"],
    "samm": ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
             "Duration", "Type", "Action Units", "Estimated Emotion", "Notes"],
}
# field -> column of each sheet
_COLS = {
    "megc": dict(subject="Subject", video="Video", onset="Onset", apex="Apex", offset="Offset",
                 aus="AUs", emotion="Emotion", type="Type"),
    "casme2": dict(subject="Subject", video="Filename", onset="OnsetFrame", apex="ApexFrame",
                   offset="OffsetFrame", aus="Action Units", emotion="Estimated Emotion"),
    "samm": dict(subject="Subject", video="Filename", onset="Onset Frame", apex="Apex Frame",
                 offset="Offset Frame", aus="Action Units", emotion="Estimated Emotion",
                 type="Type", notes="Notes"),
}


# ------------------------------------------------------------------------------------ guessing
def guess_format(path: Path) -> str:
    path = Path(path)
    if path.suffix.lower() == ".eaf":
        return "eaf"
    header = [h.strip().lower() for h in _read_table(path)[0]]
    if "onsetframe" in header:
        return "casme2"
    if "onset frame" in header:
        return "samm"
    if "onset" in header and ("video" in header or "subject" in header) and "coder" not in header:
        return "megc"
    if "onset" in header and "offset" in header:
        return "csv"
    missing = " and ".join(repr(c) for c in ("onset", "offset") if c not in header)
    raise MexlabError(f"{path}: cannot tell its format from its columns ({', '.join(header[:12])}): "
                      f"a mexlab CSV needs columns 'onset' and 'offset' (missing: {missing or 'none'}); "
                      f"for a sheet give --format ({'|'.join(FORMATS)})")


def _read_table(path: Path) -> list[list[str]]:
    """Rows of a CSV or xlsx file, from its header row on (title rows above it are skipped)."""
    if not path.is_file():
        raise MexlabError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook
            raise MexlabError(f"{path}: not a readable xlsx workbook ({exc})") from None
        rows = [["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
                 for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise MexlabError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from None
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
    for i, r in enumerate(rows):
        low = {c.strip().lower() for c in r}
        if low & {"onset", "onsetframe", "onset frame"}:
            return [[c.strip() for c in r] for r in rows[i:] if any(c.strip() for c in r)]
    raise MexlabError(f"{path}: no header row with an onset column (onset, OnsetFrame or Onset Frame)")


# ------------------------------------------------------------------------------------ export
def export(path: Path, fmt: str, clip: Clip, codings: dict[str, list[Event]]) -> int:
    """Write ``codings`` (``{coder: events}``) of ``clip``; returns the number of events written."""
    path = Path(path)
    if fmt not in FORMATS:
        raise MexlabError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    events = [e for c in sorted(codings) for e in sorted(codings[c], key=lambda e: e.onset)]
    if fmt in SHEETS and len([c for c in codings if codings[c]]) > 1:
        raise MexlabError(f"the {fmt} sheet holds one coder's events; name one with --coder "
                          f"(coders: {', '.join(sorted(codings))})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "eaf":
            _write_eaf(path, clip, codings)
        elif fmt == "csv":
            _write_rows(path, CSV_COLUMNS, [[e.coder, e.uid, e.onset, _o(e.apex), e.offset, e.type, e.aus,
                                             e.emotion or "", _o(e.confidence), e.notes, e.status, e.source]
                                            for e in events])
        else:
            _write_rows(path, SHEETS[fmt], [_sheet_row(fmt, clip, e) for e in events])
    except OSError as exc:
        raise MexlabError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return len(events)


def _o(v):
    return "" if v is None else v


def _sheet_row(fmt: str, clip: Clip, e: Event) -> list:
    one = lambda f: "" if f is None else f + 1  # noqa: E731 - 1-based frames in the sheets
    if fmt == "megc":
        return [clip.subject, clip.video_name, one(e.onset), one(e.apex), one(e.offset),
                "+".join(a.label for a in e.au_list), e.emotion or "", e.type]
    if fmt == "casme2":
        return [clip.subject, clip.video_name, one(e.onset), one(e.apex), one(e.offset), e.aus,
                e.emotion or ""]
    return [clip.subject, clip.video_name, "", one(e.onset), one(e.apex), one(e.offset),
            e.offset - e.onset + 1, e.type, "+".join(a.label for a in e.au_list), e.emotion or "", e.notes]


def _write_rows(path: Path, header: list[str], rows: list[list]) -> None:
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(header)
        for r in rows:
            ws.append(r)
        buf = io.BytesIO()   # built in memory, then written by temp-and-rename: a killed or
        wb.save(buf)         # failed export leaves the earlier file whole
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
        return
    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _write_eaf(path: Path, clip: Clip, codings: dict[str, list[Event]]) -> None:
    root = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": "mexlab", "DATE": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "FORMAT": "3.0", "VERSION": "3.0",
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if clip.rgb is not None:
        ET.SubElement(header, "MEDIA_DESCRIPTOR", {"MEDIA_URL": clip.rgb.resolve().as_uri(),
                                                   "MIME_TYPE": "video/x-matroska",
                                                   "RELATIVE_MEDIA_URL": f"./{clip.rgb.name}"})
    for k, v in (("mexlab_session_id", clip.session_id), ("mexlab_fps", f"{clip.fps:g}"),
                 ("mexlab_subject", clip.subject)):
        ET.SubElement(header, "PROPERTY", {"NAME": k}).text = v
    order = ET.SubElement(root, "TIME_ORDER")
    slots: dict[int, str] = {}

    def slot(ms: int) -> str:   # placeholder; numbered in time order below
        slots[ms] = ""
        return str(ms)

    tiers, n = [], 0
    for coder in sorted(codings):
        fields = {f: ET.Element("TIER", {"LINGUISTIC_TYPE_REF": "mexlab", "TIER_ID": f"{coder}/{f}",
                                         "ANNOTATOR": coder})
                  for f in ("event", "apex", "AUs", "emotion", "confidence", "notes")}
        for e in sorted(codings[coder], key=lambda e: e.onset):
            t0, t1 = clip.ms_of(e.onset), clip.ms_of(e.offset + 1)
            values = {"event": e.type, "AUs": e.aus, "emotion": e.emotion or "",
                      "confidence": "" if e.confidence is None else f"{e.confidence:g}", "notes": e.notes}
            for f, v in values.items():
                if f == "event" or v:
                    n += 1
                    _annotation(fields[f], f"a{n}", slot(t0), slot(t1), v)
            if e.apex is not None:
                n += 1
                _annotation(fields["apex"], f"a{n}", slot(clip.ms_of(e.apex)),
                            slot(clip.ms_of(e.apex + 1)), "apex")
        tiers += fields.values()
    for i, ms in enumerate(sorted(slots)):
        slots[ms] = f"ts{i + 1}"
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": slots[ms], "TIME_VALUE": str(ms)})
    for tier in tiers:
        for a in tier.iter("ALIGNABLE_ANNOTATION"):
            for ref in ("TIME_SLOT_REF1", "TIME_SLOT_REF2"):
                a.set(ref, slots[int(a.get(ref))])
    root.extend(tiers)
    ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false",
                                            "LINGUISTIC_TYPE_ID": "mexlab", "TIME_ALIGNABLE": "true"})
    tree = ET.ElementTree(root)
    ET.indent(tree)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)


def _annotation(tier, aid, ts1, ts2, value) -> None:
    a = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION",
                      {"ANNOTATION_ID": aid, "TIME_SLOT_REF1": ts1, "TIME_SLOT_REF2": ts2})
    ET.SubElement(a, "ANNOTATION_VALUE").text = value


# ------------------------------------------------------------------------------------ import
MAX_IMPORT_BYTES = 64 << 20   # a coding file is kilobytes; refuse what no coding file can be


def check_import_file(path: Path) -> None:
    """A coding file that exists, is not empty and is of a size a coding can have."""
    if not path.is_file():
        raise MexlabError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise MexlabError(f"{path}: the file is empty (no header row, no events)")
    if size > MAX_IMPORT_BYTES:
        raise MexlabError(f"{path}: {size / 2**20:.0f} MB is far more than a coding file holds "
                          f"(limit {MAX_IMPORT_BYTES >> 20} MB); not read")


def import_file(path: Path, clip: Clip, coder: str | None = None, fmt: str | None = None) -> dict[str, list[Event]]:
    """The codings in ``path`` for ``clip``: ``{coder: events}``.

    Sheets carry no coder: their events go to ``coder``. CSV and ELAN files name their coders;
    ``coder`` then keeps only that coder's events (or names them, when the file names none).
    """
    path = Path(path)
    check_import_file(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise MexlabError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "eaf":
        got = _read_eaf(path, clip)
    else:
        rows = _read_table(path)
        header, body = [h.strip() for h in rows[0]], rows[1:]
        got = _read_csv(path, header, body, clip, coder) if fmt == "csv" else \
            {coder or "": _read_sheet(path, fmt, header, body, clip)}
    if coder:
        named = {c for c in got if c}
        if named and coder not in named and "" not in got:
            if len(named) == 1:
                got = {coder: next(iter(got.values()))}
            else:
                raise MexlabError(f"{path}: no events of coder {coder!r} (coders: {', '.join(sorted(named))})")
        got = {coder: got.get(coder, []) + got.get("", [])}
    elif "" in got:
        raise MexlabError(f"{path}: the {fmt} file does not say who coded it; give --coder NAME")
    for c, evs in got.items():
        for i, e in enumerate(evs):
            e.coder = c
    return got


def _cell(row, idx, name):
    i = idx.get(name.lower())
    return row[i].strip() if i is not None and i < len(row) else ""


def _int(path, line, name, text, base=0, required=True, column=None):
    column = column or name
    if text == "" or text.lower() in ("/", "-", "nan"):
        if required:
            raise MexlabError(f"{path}: row {line}: no {name} frame (column {column!r})")
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or not value.is_integer() or abs(value) > 1e12:
        raise MexlabError(f"{path}: row {line}: {name} {text!r} is not a frame number (column {column!r})")
    return int(value) - base


_TYPE_WORDS = {"micro": "micro", "macro": "macro", "micro-expression": "micro", "macro-expression": "macro",
               "me": "micro", "mae": "macro"}


def _type_of(text: str) -> str | None:
    """micro/macro of a type cell ('' when empty); None when it says something else. SAMM writes
    'Micro - 1/2' and 'Macro'."""
    t = (text or "").strip().lower()
    if not t:
        return ""
    if t in _TYPE_WORDS:
        return _TYPE_WORDS[t]
    head = t.replace("_", " ").split(" - ")[0].split()[0]
    return _TYPE_WORDS.get(head)


def _event(path, line, clip, cols=None, base=0, **kw) -> Event:
    """One row's event, checked against the clip: frames inside the video, onset <= apex <=
    offset, a known type. MexlabError naming the file, the row and the column otherwise."""
    cols = cols or {}
    col = lambda f: repr(cols.get(f, f))  # noqa: E731
    where = f"{path}: row {line}"
    try:
        parse_aus(kw.get("aus", ""))
    except MexlabError as exc:
        raise MexlabError(f"{where}: column {col('aus')}: {exc}") from None
    onset, offset, apex = kw["onset"], kw["offset"], kw.get("apex")
    shown = lambda f: f + base  # noqa: E731 - frame numbers as the file writes them
    for name, f in (("onset", onset), ("apex", apex), ("offset", offset)):
        if f is not None and f < 0:
            raise MexlabError(f"{where}: {name} frame {shown(f)} (column {col(name)}) is before the first "
                              f"frame ({base})")
    if offset < onset:
        raise MexlabError(f"{where}: onset {shown(onset)} (column {col('onset')}) is after offset "
                          f"{shown(offset)} (column {col('offset')})")
    n = clip.n_frames
    if n:
        for name, f in (("onset", onset), ("apex", apex), ("offset", offset)):
            if f is not None and f >= n:
                raise MexlabError(f"{where}: {name} frame {shown(f)} (column {col(name)}) is beyond the "
                                  f"video ({n} frames: {base}..{n - 1 + base})")
    if apex is not None and not onset <= apex <= offset:
        raise MexlabError(f"{where}: apex {shown(apex)} (column {col('apex')}) is outside the event "
                          f"{shown(onset)}-{shown(offset)}")
    conf = kw.get("confidence")
    if conf is not None and not (math.isfinite(conf) and 0.0 <= conf <= 1.0):
        raise MexlabError(f"{where}: confidence {conf!r} (column {col('confidence')}) is not between 0 and 1")
    raw = kw.pop("type", "") or ""
    t = _type_of(raw)
    if t is None:
        raise MexlabError(f"{where}: type {raw.strip()!r} (column {col('type')}) is not micro or macro "
                          f"(leave it empty to derive it from the duration)")
    kw = {k: v for k, v in kw.items() if v not in (None, "") or k in ("apex",)}
    try:
        if t:
            return Event(type=t, type_overridden=t != derive_type(onset, offset, clip.fps), **kw)
        return Event(**kw).retyped(clip.fps)
    except MexlabError as exc:
        raise MexlabError(f"{where}: {exc}") from None


def _rows_checked(path, rows):
    """Run ``rows`` (callables giving an event) and collect every row's error: one message naming
    each bad row (the first eight), raised before anything is stored."""
    out, errors = [], []
    for make in rows:
        try:
            out.append(make())
        except MexlabError as exc:
            errors.append(str(exc).removeprefix(f"{path}: "))
    if len(errors) == 1:
        raise MexlabError(f"{path}: {errors[0]}; nothing imported")
    if errors:
        more = f"; and {len(errors) - 8} more" if len(errors) > 8 else ""
        raise MexlabError(f"{path}: {len(errors)} bad row(s), nothing imported: "
                          f"{'; '.join(errors[:8])}{more}")
    return out


def _read_csv(path, header, body, clip, coder) -> dict[str, list[Event]]:
    idx = {h.lower(): i for i, h in enumerate(header)}
    if "aus" not in idx:
        for alt in ("au", "action units", "action_units"):
            if alt in idx:
                idx["aus"] = idx[alt]
    missing = [c for c in ("onset", "offset") if c not in idx]
    if missing:
        raise MexlabError(f"{path}: no column {' or '.join(repr(c) for c in missing)} (columns: "
                          f"{', '.join(header[:12])}); a CSV coding needs onset and offset")

    def row(n, r):
        g = lambda k: _cell(r, idx, k)  # noqa: E731
        conf = g("confidence")
        kw = dict(onset=_int(path, n, "onset", g("onset")), offset=_int(path, n, "offset", g("offset")),
                  apex=_int(path, n, "apex", g("apex"), required=False), aus=g("aus"),
                  emotion=g("emotion") or None, type=g("type"), notes=g("notes"),
                  status=g("status") or "accepted", source=g("source") or "import")
        if g("uid"):
            kw["uid"] = g("uid")
        try:
            kw["confidence"] = float(conf) if conf else None
        except ValueError:
            raise MexlabError(f"{path}: row {n}: confidence {conf!r} is not a number") from None
        return g("coder") or "", _event(path, n, clip, **kw)

    out: dict[str, list[Event]] = {}
    for c, ev in _rows_checked(path, [lambda n=n, r=r: row(n, r) for n, r in enumerate(body, start=2)]):
        out.setdefault(c, []).append(ev)
    return out


def _read_sheet(path, fmt, header, body, clip) -> list[Event]:
    cols = _COLS[fmt]
    idx = {h.lower(): i for i, h in enumerate(header)}
    for f in ("onset", "offset"):
        if cols[f].lower() not in idx:
            raise MexlabError(f"{path}: the {fmt} sheet has no column {cols[f]!r}")
    videos = {_cell(r, idx, cols["video"]) for r in body} - {""}
    mine = {clip.video_name, clip.session_id, Path(clip.video_name).stem}
    keep = videos & mine
    if videos and not keep and len(videos) > 1:
        raise MexlabError(f"{path}: no rows for {clip.video_name} (videos in the sheet: "
                          f"{', '.join(sorted(videos)[:10])})")

    def row(n, r):
        g = lambda k: _cell(r, idx, cols[k]) if k in cols else ""  # noqa: E731
        return _event(path, n, clip, cols, 1, onset=_int(path, n, "onset", g("onset"), 1, column=cols["onset"]),
                      offset=_int(path, n, "offset", g("offset"), 1, column=cols["offset"]),
                      apex=_int(path, n, "apex", g("apex"), 1, required=False, column=cols.get("apex")),
                      aus=g("aus"), emotion=g("emotion") or None, type=g("type"), notes=g("notes"),
                      source="import")

    return _rows_checked(path, [lambda n=n, r=r: row(n, r) for n, r in enumerate(body, start=2)
                                if not (keep and _cell(r, idx, cols["video"]) not in keep)])


def _read_eaf(path: Path, clip: Clip) -> dict[str, list[Event]]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise MexlabError(f"{path}: not a readable ELAN .eaf file ({exc})") from None
    try:
        slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE", "0")) for s in root.iter("TIME_SLOT")}
    except ValueError as exc:
        raise MexlabError(f"{path}: a TIME_SLOT has a TIME_VALUE that is not whole milliseconds ({exc})") from None
    tiers: dict[str, dict[str, list]] = {}
    for tier in root.iter("TIER"):
        tid = tier.get("TIER_ID", "")
        coder, _, field = tid.rpartition("/")
        if not field:
            continue
        spans = []
        for a in tier.iter("ALIGNABLE_ANNOTATION"):
            t0, t1 = slots.get(a.get("TIME_SLOT_REF1")), slots.get(a.get("TIME_SLOT_REF2"))
            if t0 is None or t1 is None:
                raise MexlabError(f"{path}: tier {tid!r}: annotation {a.get('ANNOTATION_ID')} has no time")
            spans.append((t0, t1, (a.findtext("ANNOTATION_VALUE") or "").strip()))
        tiers.setdefault(coder or tid, {})[field] = spans
    if not tiers:
        raise MexlabError(f"{path}: no tiers named CODER/event (an ELAN file written by mexlab)")
    out = {}
    for coder, fields in tiers.items():
        def row(t0, t1, value, fields=fields):
            if t1 < t0:
                raise MexlabError(f"{path}: row at {t0} ms: tier {coder + '/event'!r} ends before it starts "
                                  f"({t1} ms)")
            onset, offset = clip.frame_at(t0 / 1000), clip.frame_at(t1 / 1000) - 1
            within = lambda f: [v for a, b, v in fields.get(f, []) if a == t0 and b == t1]  # noqa: E731
            apex = [clip.frame_at(a / 1000) for a, b, _ in fields.get("apex", []) if t0 <= a < t1]
            conf = within("confidence")
            try:
                confidence = float(conf[0]) if conf else None
            except ValueError:
                raise MexlabError(f"{path}: row at {t0} ms: confidence {conf[0]!r} (tier "
                                  f"{coder + '/confidence'!r}) is not a number") from None
            return _event(path, f"at {t0} ms", clip, {"type": f"{coder}/event"}, onset=onset,
                          offset=max(onset, offset), apex=apex[0] if apex else None,
                          aus="+".join(within("AUs")), emotion=(within("emotion") or [None])[0], type=value,
                          notes=" ".join(within("notes")), confidence=confidence, source="import")

        evs = _rows_checked(path, [lambda a=a: row(*a) for a in fields.get("event", [])])
        out[coder] = evs
    return out
