"""The clips of a session: the stretches of video during which the participant saw a stimulus or
answered a question, cut from the protocol's markers.

A protocol run marks every step with ``stimulus_onset`` / ``stimulus_offset`` (flip-locked, LSL
clock, the step's ``seq`` in both). The steps a coder codes are the ``stimulus`` steps (clips,
pictures, texts) and the ``question`` steps (interview answers); each becomes a :class:`Segment`
of video frames, found by placing the marker times on the frame timestamps of the session's
frame-index stream (the frame shown at the onset up to the last frame shown before the offset).

Codings are cut into segments by :func:`split_codings`: an event belongs to the segment holding
its apex (its onset when it has no apex), is clipped to the segment and renumbered from the
segment's first frame, so that a clip's reliability (pairs, kappa over the clip's frames) is the
reliability of that clip alone. Events outside every segment count for the session and study,
not for a clip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from analysis.annotation.clip import Clip
from analysis.annotation.model import Event

CODED_STEPS = ("stimulus", "question")


@dataclass(frozen=True)
class Segment:
    name: str  # "<session>#<seq> <stimulus | question | step id>"
    start: int  # first frame (0-based, inclusive)
    end: int  # last frame (inclusive)
    fields: dict  # the onset marker's fields (block, trial, condition, stimulus, …)

    @property
    def n_frames(self) -> int:
        return self.end - self.start + 1


def stimulus_segments(clip: Clip) -> list[Segment]:
    """The coded steps of ``clip``'s session as frame segments (none for a plain video, a session
    without protocol markers or without frame timestamps)."""
    if clip.folder is None or clip.n_frames == 0:
        return []
    clock = clip.clock
    onsets: dict = {}
    segments = []
    for t, m in clip.markers:
        event, seq = m.get("event"), m.get("seq")
        if m.get("step") not in CODED_STEPS or seq is None:
            continue
        if event == "stimulus_onset":
            onsets[seq] = (t, m)
        elif event == "stimulus_offset" and seq in onsets:
            t0, fields = onsets.pop(seq)
            start = int(np.floor(clock.frame_of(t0)))  # the frame on screen at t0
            end = int(np.ceil(clock.frame_of(t))) - 1  # the last frame before t
            start, end = max(start, 0), min(end, clip.n_frames - 1)
            if end < start:
                continue
            what = fields.get("stimulus") or fields.get("question") or fields.get("step_id") or "step"
            segments.append(
                Segment(
                    f"{clip.video_name}#{seq} {Path(str(what)).name}",
                    start,
                    end,
                    {k: v for k, v in fields.items() if k != "event"},
                )
            )
    return segments


def split_codings(codings: dict[str, list[Event]], segments: list[Segment]) -> dict[str, dict[str, list[Event]]]:
    """``{segment name: {coder: [events cut to the segment, frames from its start]}}``."""
    out: dict[str, dict[str, list[Event]]] = {s.name: {c: [] for c in codings} for s in segments}
    for coder, events in codings.items():
        for e in events:
            anchor = e.apex if e.apex is not None else e.onset
            for s in segments:
                if s.start <= anchor <= s.end:
                    out[s.name][coder].append(
                        replace(
                            e,
                            onset=max(e.onset, s.start) - s.start,
                            offset=min(e.offset, s.end) - s.start,
                            apex=None if e.apex is None else e.apex - s.start,
                        )
                    )
                    break
    return out
