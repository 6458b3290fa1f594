"""What the CLI and the workspace do with codings: import a file into the catalog, export a
session's codings, compute a session's or a study's reliability."""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import DataError, InputError, NotFoundError
from analysis.annotation import formats
from analysis.annotation.clip import Clip, open_clip
from analysis.annotation.consensus import CONSENSUS_CODER
from analysis.annotation.reliability import reliability
from analysis.annotation.stimulus_clips import split_codings, stimulus_segments
from analysis.annotation.store import AnnotationStore


def import_coding(
    store: AnnotationStore,
    file: Path,
    session: Path | str,
    coder: str | None,
    fmt: str | None = None,
    replace: bool = False,
) -> dict[str, dict]:
    """Import ``file`` into the catalog as the coding(s) of ``session``:
    ``{coder: {"imported": n, "replaced": m}}``.

    Every row is checked (frames inside the video, onset <= apex <= offset, a known type) before
    the catalog is touched. A coder who already coded the session keeps that coding unless
    ``replace`` is given (MexlabError saying what would be replaced); with it, the earlier coding is
    replaced in one transaction (its revisions keep it).
    """
    clip = open_clip(session)
    got = formats.import_file(Path(file), clip, coder=coder, fmt=fmt)
    existing = {c: store.events(clip.session_id, c) for c in got}
    existing = {c: evs for c, evs in existing.items() if evs}
    if existing and not replace:
        what = "; ".join(
            f"coder {c!r} has {len(evs)} event(s) (frames {evs[0].onset}-{evs[-1].offset})"
            for c, evs in existing.items()
        )
        raise InputError(
            f"{session}: already coded in the catalog: {what}; importing {file} would "
            f"replace them: give --replace to do so (the earlier coding stays in the "
            f"revision history)"
        )
    return {
        c: {"imported": len(store.replace_coding(clip.session_id, c, evs)), "replaced": len(existing.get(c, []))}
        for c, evs in got.items()
    }


def codings(
    store: AnnotationStore,
    clip: Clip,
    coder: str | None = None,
    include_rejected: bool = False,
    include_candidates: bool = False,
) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in store.events(clip.session_id, coder, include_rejected=include_rejected):
        if e.status == "candidate" and not include_candidates:
            continue
        out.setdefault(e.coder, []).append(e)
    return out


def export_coding(store: AnnotationStore, session: Path | str, fmt: str, out: Path, coder: str | None = None) -> int:
    formats.check_export_path(Path(out))
    clip = open_clip(session)
    got = codings(store, clip, coder)
    if coder and coder not in got:
        have = ", ".join(store.coders(clip.session_id)) or "none"
        raise NotFoundError(f"{session}: no events of coder {coder!r} in the catalog (coders: {have})")
    if not got:
        raise NotFoundError(f"{session}: nothing coded yet in the catalog {store.catalog.url}")
    return formats.export(Path(out), fmt, clip, got)


def session_reliability(store: AnnotationStore, sessions: list[Path | str]) -> dict:
    """Reliability per session, per clip and for the study (all sessions pooled).

    ``sessions`` holds the per-session reports; ``clips`` the per-clip ones: the coded protocol
    steps (stimuli, questions) cut from each session's markers (:mod:`stimulus_clips`); a session
    or video without protocol markers is one clip. The top-level figures are the study's. The
    ``consensus`` coding is not a coder and is left out.
    """
    per_session, frames, clips, clip_frames = {}, {}, {}, {}
    for s in sessions:
        clip = open_clip(s)
        cod = {c: evs for c, evs in codings(store, clip).items() if c != CONSENSUS_CODER}
        per_session[clip.video_name] = cod
        frames[clip.video_name] = clip.n_frames
        segments = stimulus_segments(clip)
        if segments:
            clips.update(split_codings(cod, segments))
            clip_frames.update({seg.name: seg.n_frames for seg in segments})
        else:
            clips[clip.video_name] = cod
            clip_frames[clip.video_name] = clip.n_frames
    coders = {c for cod in per_session.values() for c in cod}
    if len(coders) < 2:
        raise DataError(f"reliability needs two coders or more; coded here: {', '.join(sorted(coders)) or 'nobody'}")
    study = reliability(per_session, frames)
    by_clip = reliability(clips, clip_frames)
    return {"coders": study["coders"], "sessions": study.pop("clips"), "clips": by_clip["clips"], **study}
