"""``smic:ROOT`` — SMIC (HS, VIS, NIR).

Layout: ``ROOT/{HS,VIS,NIR}/sN/micro/{negative,positive,surprise}/<clip>/image<K>.{bmp,jpg}``; the
class is the folder name. ROOT may also be one modality's folder (``ROOT/sN/micro/…``). When ROOT
holds several modalities, HS is read (the MEGC 2019 composite uses SMIC-HS); point ROOT at
``…/VIS`` or ``…/NIR`` for the others. SMIC gives no onset/apex/offset: the clip's first frame is
the onset, its last the offset, and its middle frame the apex (as is common; said in the docs).
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import NotFoundError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, image_frames

MODALITIES = ("HS", "VIS", "NIR")


def _subjects(base: Path) -> list[Path]:
    return sorted(
        (p for p in base.iterdir() if p.is_dir() and (p / "micro").is_dir()), key=lambda p: (len(p.name), p.name)
    )


def read(root: str, scheme: Scheme) -> DatasetRead:
    root_p = check_root(root)
    base = root_p
    if not _subjects(base):
        for m in MODALITIES:
            for cand in (root_p / m, root_p / f"SMIC-{m}", root_p / f"SMIC_{m}"):
                if cand.is_dir() and _subjects(cand):
                    base = cand
                    break
            if base is not root_p:
                break
    subs = _subjects(base) if base.is_dir() else []
    if not subs:
        raise NotFoundError(f"{root_p}: no SMIC subject folder (sN/micro/…) found, in it or in {', '.join(MODALITIES)}")
    res = DatasetRead("smic", str(base), scheme.name)
    labels: dict = {}
    for sd in subs:
        for cls_dir in sorted(p for p in (sd / "micro").iterdir() if p.is_dir()):
            for clip in sorted(p for p in cls_dir.iterdir() if p.is_dir()):
                files = image_frames(clip)
                origin = f"{clip.relative_to(base)}"
                if not files:
                    res.errors.append(f"{origin}: no image in {clip}")
                    continue
                on, off = min(files), max(files)
                add_sample(
                    res,
                    scheme,
                    labels,
                    kind="smic",
                    subject=sd.name,
                    video=clip.name,
                    onset=on,
                    apex=None,
                    offset=off,
                    aus="",
                    emotion=cls_dir.name,
                    folder=clip,
                    depth_folder=None,
                    origin=origin,
                    cache={clip: files},
                )
    res.problems = [p for p in res.problems if "no apex given" not in p]
    if res.samples:
        res.problems.append(f"SMIC gives no apex: the middle frame of each clip is used ({len(res.samples)} clips)")
    return finish(res, scheme, labels, str(base))
