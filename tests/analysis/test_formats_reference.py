"""The coding exchange formats (analysis/annotation/formats.py) against reference files written by hand
from each format's description (tests/data/formats/README.md), not against mexlab's own output:
every imported event is compared with values worked out by hand, every export with the reference's
bytes (CSV) or structure (xlsx cells, the ELAN document's elements)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from analysis.annotation import formats
from analysis.annotation.clip import Clip
from analysis.annotation.model import Event

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
IMPORT, EXPORT = DATA / "import", DATA / "export"
FIELDS = (
    "onset",
    "apex",
    "offset",
    "type",
    "type_overridden",
    "aus",
    "emotion",
    "confidence",
    "notes",
    "status",
    "source",
)


def clip(video: str, fps: float, n_frames: int, subject: str = "", rgb: Path | None = None) -> Clip:
    return Clip(
        session_id="S-0001", subject=subject, video_name=video, fps=fps, frame_times=np.arange(n_frames) / fps, rgb=rgb
    )


def fields(events: list[Event]) -> list[dict]:
    return [{f: getattr(e, f) for f in FIELDS} for e in events]


def ev(
    onset,
    apex,
    offset,
    type,
    aus="",
    emotion=None,
    confidence=None,
    notes="",
    status="accepted",
    source="import",
    type_overridden=False,
) -> dict:
    return dict(
        onset=onset,
        apex=apex,
        offset=offset,
        type=type,
        type_overridden=type_overridden,
        aus=aus,
        emotion=emotion,
        confidence=confidence,
        notes=notes,
        status=status,
        source=source,
    )


# ------------------------------------------------------------------------------------ import
# CASME II: 200 fps; sheet frames are img numbers (1-based): mexlab frame = sheet frame - 1; the row of
# EP03_02 is another video's; the apex '/' is unknown; durations 41, 41 and 91 frames (<= 0.5 s: micro)
CASME2 = [
    ev(45, 58, 85, "micro", "12", "happiness"),
    ev(120, None, 160, "micro", "4+L10", "repression"),
    ev(210, 231, 300, "micro", "R12C+14", "others"),
]


@pytest.mark.parametrize("name", ["casme2_coding.csv", "casme2_coding.xlsx"])
def test_casme2_sheet(name):
    got = formats.import_file(IMPORT / name, clip("EP02_01f", 200.0, 400), coder="ann")
    assert formats.guess_format(IMPORT / name) == "casme2"
    assert list(got) == ["ann"] and all(e.coder == "ann" for e in got["ann"])
    assert fields(got["ann"]) == CASME2


def test_samm_sheet_after_its_preamble():
    """SAMM: the header after title rows, 200 fps, 'Micro - 1/2' and 'Macro' types (here as the coder
    wrote them: 71 frames is micro, 401 frames macro), Notes and the Estimated Emotion by name."""
    got = formats.import_file(IMPORT / "samm_codes.xlsx", clip("006_1_2", 200.0, 7000), coder="ann")
    assert formats.guess_format(IMPORT / "samm_codes.xlsx") == "samm"
    assert fields(got["ann"]) == [
        ev(5561, 5587, 5631, "micro", "R12+R15", "Contempt", notes="smirk"),
        ev(5999, 6099, 6399, "macro", "4+7", "Anger"),
    ]


def test_megc_cas_me_2_sheet():
    """CAS(ME)²-style types ('micro-expression', 'macro-expression'); an empty type is derived from the
    duration (15 frames at 30 fps = 0.5 s: micro); an empty emotion is none."""
    got = formats.import_file(IMPORT / "megc_casme2sq.csv", clip("15_0101disgustingteeth", 30.0, 1600), coder="ann")
    assert formats.guess_format(IMPORT / "megc_casme2sq.csv") == "megc"
    assert fields(got["ann"]) == [
        ev(556, 561, 567, "micro", "4+7", "disgust"),
        ev(1092, 1120, 1299, "macro", "12", "happiness"),
        ev(1500, 1509, 1514, "micro", "R12"),
    ]


def test_plain_csv_with_every_column_and_two_coders():
    got = formats.import_file(IMPORT / "events.csv", clip("P07_s1", 30.0, 600))
    assert sorted(got) == ["alice", "bob"]
    assert [e.uid for e in got["alice"]] == ["a1", "a2"] and [e.uid for e in got["bob"]] == ["b1"]
    assert fields(got["alice"]) == [
        ev(30, 36, 44, "micro", "4+7", "anger", 0.75, "brow, then lids", source="manual"),
        ev(100, None, 130, "macro", "12", status="candidate", source="spotting"),
    ]
    assert fields(got["bob"]) == [ev(31, 35, 45, "micro", "4", confidence=1.0, source="manual")]
    only_bob = formats.import_file(IMPORT / "events.csv", clip("P07_s1", 30.0, 600), coder="bob")
    assert list(only_bob) == ["bob"] and [e.uid for e in only_bob["bob"]] == ["b1"]


def test_plain_csv_at_its_smallest_with_semicolons():
    got = formats.import_file(IMPORT / "minimal_semicolon.csv", clip("P07_s1", 30.0, 600), coder="ann")
    assert formats.guess_format(IMPORT / "minimal_semicolon.csv") == "csv"
    # 11 frames at 30 fps: micro; 41 frames (1.37 s): macro
    assert fields(got["ann"]) == [
        ev(10, None, 20, "micro", "L12", status="accepted", source="import"),
        ev(200, None, 240, "macro"),
    ]


def test_elan_eaf():
    """Time slots in ms from the first frame: 1000-1500 ms at 30 fps is frames 30..44 (the slot after
    the offset frame ends the annotation), the apex slot 1200 ms frame 36; 4000-5000 ms frames 120..149."""
    got = formats.import_file(IMPORT / "elan.eaf", clip("P07_s1", 30.0, 600))
    assert sorted(got) == ["alice", "bob"]
    assert fields(got["alice"]) == [
        ev(30, 36, 44, "micro", "4+7", "anger", 0.5),
        ev(120, None, 149, "macro", notes="talking"),
    ]
    assert fields(got["bob"]) == [ev(30, None, 44, "micro")]


# ------------------------------------------------------------------------------------ export
RGB = Path("/data/P07_s1/rgb.mkv")
EXPORTED = {
    "alice": [
        Event(
            onset=30,
            apex=36,
            offset=44,
            aus="4+7",
            emotion="anger",
            type="micro",
            confidence=0.75,
            notes="brow, then lids",
            status="accepted",
            source="manual",
            coder="alice",
            uid="u1",
        ),
        Event(
            onset=100,
            offset=130,
            aus="R12",
            type="macro",
            status="candidate",
            source="spotting",
            coder="alice",
            uid="u2",
        ),
    ]
}


def export_clip() -> Clip:
    return clip("P07_s1", 30.0, 600, subject="P07", rgb=RGB)


@pytest.mark.parametrize(
    "fmt, ref", [("csv", "events.csv"), ("megc", "megc.csv"), ("casme2", "casme2.csv"), ("samm", "samm.csv")]
)
def test_csv_exports_are_the_reference_bytes(tmp_path, fmt, ref):
    out = tmp_path / ref
    assert formats.export(out, fmt, export_clip(), EXPORTED) == 2
    assert out.read_bytes() == (EXPORT / ref).read_bytes()


def _cells(path: Path) -> list[list]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    rows = [["" if v is None else v for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def _typed(text: str) -> object:
    return int(text) if text.isdigit() else text


@pytest.mark.parametrize("fmt", ["megc", "casme2", "samm"])
def test_xlsx_exports_hold_the_reference_cells(tmp_path, fmt):
    """The same cells as the CSV reference, frame numbers as numbers (what a spreadsheet sorts on)."""
    import csv

    out = tmp_path / f"{fmt}.xlsx"
    formats.export(out, fmt, export_clip(), EXPORTED)
    with open(EXPORT / f"{fmt}.csv", newline="", encoding="utf-8") as fh:
        want = [[_typed(c) for c in r] for r in csv.reader(fh)]
    assert _cells(out) == want


def _structure(path: Path) -> list[tuple]:
    """The document in order: (tag, attributes, text), leaving out DATE and the absolute media URL."""
    root = ET.parse(path).getroot()
    out = []
    for el in root.iter():
        attrs = {k: v for k, v in el.attrib.items() if k not in ("DATE", "MEDIA_URL")}
        out.append((el.tag, sorted(attrs.items()), (el.text or "").strip()))
    return out


def test_elan_export_has_the_reference_structure(tmp_path):
    out = tmp_path / "events.eaf"
    formats.export(out, "eaf", export_clip(), EXPORTED)
    assert _structure(out) == _structure(EXPORT / "events.eaf")
    root = ET.parse(out).getroot()
    assert root.find("HEADER/MEDIA_DESCRIPTOR").get("MEDIA_URL") == RGB.as_uri()
    # EAF 3.0 order of the top-level elements (EAFv3.0.xsd): HEADER, TIME_ORDER, TIER*, LINGUISTIC_TYPE*
    assert [c.tag for c in root] == ["HEADER", "TIME_ORDER"] + ["TIER"] * 6 + ["LINGUISTIC_TYPE"]


def test_reference_exports_read_back_as_the_events(tmp_path):
    """The hand-written export references are themselves valid input: reading them gives the events."""
    want = fields(EXPORTED["alice"])
    for ref in ("events.csv", "megc.csv", "casme2.csv", "samm.csv", "events.eaf"):
        f = tmp_path / ref
        shutil.copyfile(EXPORT / ref, f)
        got = formats.import_file(f, export_clip(), coder="alice")["alice"]
        keep = {
            "events.csv": FIELDS,
            "events.eaf": ("onset", "apex", "offset", "type", "aus", "emotion", "confidence", "notes"),
            "megc.csv": ("onset", "apex", "offset", "type", "aus", "emotion"),
            "casme2.csv": ("onset", "apex", "offset", "aus", "emotion"),
            "samm.csv": ("onset", "apex", "offset", "type", "aus", "emotion", "notes"),
        }[ref]
        assert [{k: d[k] for k in keep} for d in fields(got)] == [{k: d[k] for k in keep} for d in want], ref
