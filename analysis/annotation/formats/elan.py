"""ELAN 3.0 (.eaf) codings: per coder the tiers ``<coder>/event`` (value: the type), ``/apex``,
``/AUs``, ``/emotion``, ``/confidence`` and ``/notes``; time slots in ms from the first frame's
timestamp (an event spans onset .. offset + 1 frame)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from acquisition.atomic import atomic_path
from acquisition.errors import FileFormatError
from analysis.annotation.clip import Clip
from analysis.annotation.formats.rows import make_event, rows_checked
from analysis.annotation.model import Event

FIELDS = ("event", "apex", "AUs", "emotion", "confidence", "notes")


def write_eaf(path: Path, clip: Clip, codings: dict[str, list[Event]]) -> None:
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": "mexlab",
            "DATE": datetime.now(UTC).isoformat(timespec="seconds"),
            "FORMAT": "3.0",
            "VERSION": "3.0",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
        },
    )
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if clip.rgb is not None:
        ET.SubElement(
            header,
            "MEDIA_DESCRIPTOR",
            {
                "MEDIA_URL": clip.rgb.resolve().as_uri(),
                "MIME_TYPE": "video/x-matroska",
                "RELATIVE_MEDIA_URL": f"./{clip.rgb.name}",
            },
        )
    for k, v in (
        ("mexlab_session_id", clip.session_id),
        ("mexlab_fps", f"{clip.fps:g}"),
        ("mexlab_subject", clip.subject),
    ):
        ET.SubElement(header, "PROPERTY", {"NAME": k}).text = v
    order = ET.SubElement(root, "TIME_ORDER")
    slots: dict[int, str] = {}

    def slot(ms: int) -> str:  # placeholder; numbered in time order below
        slots[ms] = ""
        return str(ms)

    tiers, n = [], 0
    for coder in sorted(codings):
        fields = {
            f: ET.Element("TIER", {"LINGUISTIC_TYPE_REF": "mexlab", "TIER_ID": f"{coder}/{f}", "ANNOTATOR": coder})
            for f in FIELDS
        }
        for e in sorted(codings[coder], key=lambda e: e.onset):
            t0, t1 = clip.ms_of(e.onset), clip.ms_of(e.offset + 1)
            values = {
                "event": e.type,
                "AUs": e.aus,
                "emotion": e.emotion or "",
                "confidence": "" if e.confidence is None else f"{e.confidence:g}",
                "notes": e.notes,
            }
            for f, v in values.items():
                if f == "event" or v:
                    n += 1
                    _annotation(fields[f], f"a{n}", slot(t0), slot(t1), v)
            if e.apex is not None:
                n += 1
                _annotation(fields["apex"], f"a{n}", slot(clip.ms_of(e.apex)), slot(clip.ms_of(e.apex + 1)), "apex")
        tiers += fields.values()
    for i, ms in enumerate(sorted(slots)):
        slots[ms] = f"ts{i + 1}"
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": slots[ms], "TIME_VALUE": str(ms)})
    for tier in tiers:
        for a in tier.iter("ALIGNABLE_ANNOTATION"):
            for ref in ("TIME_SLOT_REF1", "TIME_SLOT_REF2"):
                a.set(ref, slots[int(a.get(ref))])
    root.extend(tiers)
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "mexlab", "TIME_ALIGNABLE": "true"},
    )
    tree = ET.ElementTree(root)
    ET.indent(tree)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)


def _annotation(tier, aid, ts1, ts2, value) -> None:
    a = ET.SubElement(
        ET.SubElement(tier, "ANNOTATION"),
        "ALIGNABLE_ANNOTATION",
        {"ANNOTATION_ID": aid, "TIME_SLOT_REF1": ts1, "TIME_SLOT_REF2": ts2},
    )
    ET.SubElement(a, "ANNOTATION_VALUE").text = value


def read_eaf(path: Path, clip: Clip) -> dict[str, list[Event]]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FileFormatError(f"{path}: not a readable ELAN .eaf file ({exc})") from None
    try:
        slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE", "0")) for s in root.iter("TIME_SLOT")}
    except ValueError as exc:
        raise FileFormatError(f"{path}: a TIME_SLOT has a TIME_VALUE that is not whole milliseconds ({exc})") from None
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
                raise FileFormatError(f"{path}: tier {tid!r}: annotation {a.get('ANNOTATION_ID')} has no time")
            spans.append((t0, t1, (a.findtext("ANNOTATION_VALUE") or "").strip()))
        tiers.setdefault(coder or tid, {})[field] = spans
    if not tiers:
        raise FileFormatError(f"{path}: no tiers named CODER/event (an ELAN file written by mexlab)")
    out = {}
    for coder, fields in tiers.items():

        def row(t0, t1, value, fields=fields, coder=coder):
            if t1 < t0:
                raise FileFormatError(
                    f"{path}: row at {t0} ms: tier {coder + '/event'!r} ends before it starts ({t1} ms)"
                )
            onset, offset = clip.frame_at(t0 / 1000), clip.frame_at(t1 / 1000) - 1

            def within(f: str, t0: float = t0, t1: float = t1) -> list:
                return [v for a, b, v in fields.get(f, []) if a == t0 and b == t1]

            apex = [clip.frame_at(a / 1000) for a, b, _ in fields.get("apex", []) if t0 <= a < t1]
            conf = within("confidence")
            try:
                confidence = float(conf[0]) if conf else None
            except ValueError:
                raise FileFormatError(
                    f"{path}: row at {t0} ms: confidence {conf[0]!r} (tier {coder + '/confidence'!r}) is not a number"
                ) from None
            return make_event(
                path,
                f"at {t0} ms",
                clip,
                {"type": f"{coder}/event"},
                onset=onset,
                offset=max(onset, offset),
                apex=apex[0] if apex else None,
                aus="+".join(within("AUs")),
                emotion=(within("emotion") or [None])[0],
                type=value,
                notes=" ".join(within("notes")),
                confidence=confidence,
                source="import",
            )

        evs = rows_checked(path, [lambda a=a: row(*a) for a in fields.get("event", [])])
        out[coder] = evs
    return out
