"""``mexlab:SESSION_OR_FOLDER...`` — a lab's own sessions as a recognition dataset.

Labels, in this order of preference: the coders' consensus coding in the catalog (coder
``consensus``); else, when ``coder`` is given, that coder's coding; else, only when asked
(``truth="rig"``), the simulated rig's ``ground_truth.csv`` (its AUs give the emotion, see
:data:`analysis.datasets.classes.RIG_AU_EMOTION`). RGB frames come from ``rgb.mkv``, depth from
``depth.mkv`` (frame numbers = the files' 0-based frame numbers). The subject is the session's
participant, else the session folder's name. A folder that is not a session is searched one level
down for sessions.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import FileFormatError, InputError, NotFoundError
from acquisition.session_read.names import DEPTH_NAME, GROUND_TRUTH_NAME, RGB_NAME, SIDECAR
from analysis.datasets.classes import Scheme, rig_emotion
from analysis.datasets.common import finish
from analysis.datasets.sample import DatasetRead, FrameSource, Sample

if TYPE_CHECKING:
    from acquisition.catalog import Catalog

TRUTHS = ("annotations", "rig")


def find_sessions(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise NotFoundError(f"{p}: no such session or folder")
        if not p.is_dir():
            raise InputError(f"{p}: not a folder (a mexlab session folder, or a folder of them)")
        if (p / SIDECAR).is_file():
            out.append(p)
            continue
        subs = sorted(q for q in p.iterdir() if (q / SIDECAR).is_file())
        if not subs:
            raise NotFoundError(f"{p}: holds no mexlab session (no session.json in it or one level down)")
        out.extend(subs)
    return out


def _meta(folder: Path) -> dict:
    try:
        obj = json.loads((folder / SIDECAR).read_text(encoding="utf-8"))
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{folder / SIDECAR}: cannot be read ({exc})") from None


def _rig_rows(folder: Path) -> list[dict]:
    gt = folder / GROUND_TRUTH_NAME
    if not gt.is_file():
        raise NotFoundError(
            f"{folder}: no ground_truth.csv (only sessions of the simulated rig "
            f"have one; code the session, or leave out --truth rig)"
        )
    try:
        with open(gt, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error) as exc:
        raise FileFormatError(f"{gt}: cannot be read ({exc})") from None
    out = []
    for n, r in enumerate(rows, 2):
        if (r.get("type") or "").strip() not in ("micro", "macro"):
            continue
        try:
            on, ap, off = (int(float(r[k])) for k in ("onset", "apex", "offset"))
        except (KeyError, TypeError, ValueError):
            raise FileFormatError(f"{gt}, line {n}: onset/apex/offset are not frame numbers") from None
        aus = (r.get("aus") or "").strip()
        out.append(
            {
                "onset": on,
                "apex": ap,
                "offset": off,
                "aus": aus,
                "type": r["type"].strip(),
                "emotion": rig_emotion(aus),
                "origin": f"{gt.name} line {n}",
            }
        )
    return out


def _coded_rows(folder: Path, meta: dict, coder: str | None, store) -> tuple[list[dict], str] | None:
    from analysis.annotation.consensus import CONSENSUS_CODER

    sid = meta.get("session_id")
    if not sid:
        return None
    for who in [CONSENSUS_CODER] + ([coder] if coder else []):
        events = [e for e in store.events(str(sid), who, include_rejected=False) if e.status == "accepted"]
        if events:
            return (
                [
                    {
                        "onset": e.onset,
                        "apex": e.apex if e.apex is not None else (e.onset + e.offset) // 2,
                        "offset": e.offset,
                        "aus": e.aus,
                        "type": e.type,
                        "emotion": e.emotion or "",
                        "origin": f"coder {who} event {e.uid}",
                    }
                    for e in events
                ],
                who,
            )
    return None


def read(
    paths: list[str],
    scheme: Scheme,
    *,
    truth: str | None = None,
    coder: str | None = None,
    catalog: Catalog | str | None = None,
    include_macro: bool = False,
) -> DatasetRead:
    if truth not in (None, "annotations", "rig"):
        raise InputError(f"--truth {truth!r}: expected 'rig' (or nothing, for the annotations)")
    sessions = find_sessions(paths)
    res = DatasetRead("mexlab", ",".join(paths), scheme.name)
    store = None
    if truth != "rig":
        from analysis.annotation.store import AnnotationStore

        store = AnnotationStore(catalog)
    labels: dict[str, list[str]] = {}
    try:
        for folder in sessions:
            meta = _meta(folder)
            rgb = folder / RGB_NAME
            if not rgb.is_file():
                raise NotFoundError(f"{folder}: no rgb.mkv")
            depth = folder / DEPTH_NAME
            subject = str(meta.get("participant") or folder.name)
            if truth == "rig":
                rows = _rig_rows(folder)
            else:
                got = _coded_rows(folder, meta, coder, store)
                if got is None:
                    who = (
                        f"no consensus and no coding by {coder!r}"
                        if coder
                        else "no consensus coding (name a coder with --coder, or for the simulated rig use --truth rig)"
                    )
                    res.problems.append(f"{folder}: {who}; session left out")
                    continue
                rows = got[0]
            for r in rows:
                if r["type"] == "macro" and not include_macro:
                    res.leave_out("macro-expression")
                    continue
                labels.setdefault(r["emotion"], []).append(f"{folder.name} {r['origin']}")
                known, cls = scheme.classify(r["emotion"])
                res.samples.append(
                    Sample(
                        "mexlab",
                        subject,
                        folder.name,
                        r["onset"],
                        r["apex"],
                        r["offset"],
                        r["aus"],
                        r["emotion"],
                        cls,
                        FrameSource(str(rgb)),
                        FrameSource(str(depth)) if depth.is_file() else None,
                        origin=f"{folder} {r['origin']}",
                        type=r["type"],
                    )
                )
    finally:
        if store is not None:
            store.close()
    return finish(res, scheme, labels, f"mexlab:{res.root}")
