"""Shared steps of the release readers: turning sheet rows into samples, checking frames."""

from __future__ import annotations

from pathlib import Path

from analysis.datasets.classes import Scheme
from analysis.datasets.sample import DatasetRead, FrameSource, Sample
from analysis.datasets.sheets import image_frames


def add_sample(
    res: DatasetRead,
    scheme: Scheme,
    labels: dict,
    *,
    kind: str,
    subject: str,
    video: str,
    onset: int,
    apex: int | None,
    offset: int,
    aus: str,
    emotion: str,
    folder: Path,
    depth_folder: Path | None,
    origin: str,
    type_: str = "micro",
    dropped_ok: bool = False,
    cache: dict | None = None,
) -> None:
    """Check the frames of one sheet row and add it as a sample (or a problem)."""
    cache = cache if cache is not None else {}
    if folder not in cache:
        cache[folder] = image_frames(folder)
    files = cache[folder]
    if not files:
        res.errors.append(f"{origin}: the frames folder {folder} does not exist or holds no image")
        return
    if offset < onset or (apex is not None and not onset <= apex <= offset):
        res.errors.append(f"{origin}: frames onset {onset}, apex {apex}, offset {offset} are not in order")
        return
    if apex is None:
        apex = (onset + offset) // 2
        res.problems.append(f"{origin}: no apex given; the middle frame {apex} is used")
    missing = tuple(k for k in range(onset, offset + 1) if k not in files)
    if missing:
        if dropped_ok:
            res.dropped[f"{subject}/{video}"] = res.dropped.get(f"{subject}/{video}", 0) + len(missing)
            if len(missing) == offset - onset + 1:
                res.errors.append(f"{origin}: none of the frames {onset}–{offset} is in {folder}")
                return
        else:
            named = [k for k in (onset, apex, offset) if k not in files]
            if named:
                ex = Path(next(iter(files.values())))
                want = [str(folder / _guess_name(ex, k)) for k in named]
                res.errors.append(f"{origin}: frame(s) named by the sheet are missing: {', '.join(want)}")
                return
            res.dropped[f"{subject}/{video}"] = res.dropped.get(f"{subject}/{video}", 0) + len(missing)
    dfiles = None
    if depth_folder is not None:
        if depth_folder not in cache:
            cache[depth_folder] = image_frames(depth_folder)
        dfiles = cache[depth_folder] or None
    labels.setdefault(emotion, []).append(origin)
    _, cls = scheme.classify(emotion)
    res.samples.append(
        Sample(
            kind,
            subject,
            video,
            onset,
            apex,
            offset,
            aus,
            emotion,
            cls,
            FrameSource(str(folder), files),
            FrameSource(str(depth_folder), dfiles) if dfiles else None,
            origin=origin,
            type=type_,
            missing=missing,
        )
    )


def _guess_name(example: Path, k: int) -> str:
    """The file name frame ``k`` would have, following ``example``'s pattern."""
    import re

    m = re.search(r"(\d+)(\D*)$", example.name)
    if not m:
        return f"{k}{example.suffix}"
    digits = m.group(1)
    num = str(k).zfill(len(digits)) if digits.startswith("0") else str(k)
    return example.name[: m.start(1)] + num + m.group(2)


def offset_or_apex(res: DatasetRead, origin: str, written: str, apex: int | None) -> int | None:
    """A sheet row's offset left uncoded (``written`` as the sheet has it, 0 or -1): its apex, as the
    MEGC spotting code takes it, said in ``res.problems``; None (an error in ``res.errors``) when the
    apex is not coded either."""
    if not apex:
        res.errors.append(f"{origin}: neither an offset nor an apex is coded")
        return None
    res.problems.append(f"{origin}: offset {written} (not coded); the apex {apex} is taken as the offset")
    return apex


def finish(res: DatasetRead, scheme: Scheme, labels: dict, what: str) -> DatasetRead:
    scheme.check(labels, what)
    for s in res.samples:
        if s.label is None:
            key = f"label {s.emotion or '(none)'} left out by scheme {scheme.name}"
            res.leave_out(key)
    return res
