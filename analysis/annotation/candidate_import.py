"""Bringing candidate events into a coder's Annotate session, without Qt: EMG bursts of the mapped
channels measured against a baseline (:class:`Baseline`: the first seconds, the selected event, or
none) and the intervals of ``analysis/spotting.json``. Each adds to the
:class:`~analysis.annotation.workspace_model.AnnotateModel` (one already there is not added twice;
one that coincides with an event the coder made is listed in that event's *matches*) and leaves
the line the workspace shows in the model's message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acquisition.errors import InputError, MexlabError
from analysis.annotation.clip import Clip
from analysis.annotation.model import Event
from analysis.annotation.workspace_model import AnnotateModel

BASELINES = ("first seconds", "selected event", "none")


@dataclass
class Baseline:
    """The quiet segment the EMG bursts are measured against."""

    mode: str = "first seconds"
    seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in BASELINES:
            raise ValueError(f"baseline {self.mode!r} (one of {', '.join(BASELINES)})")

    def segment(self, frame_times: np.ndarray, selected: Event | None = None) -> tuple[float, float] | None:
        """The baseline on the session's clock (LSL s); None for ``none`` or a clip without frame times."""
        ft = np.asarray(frame_times)
        if ft.size == 0:
            return None
        if self.mode == "first seconds":
            return float(ft[0]), float(ft[0]) + float(self.seconds)
        if self.mode == "selected event":
            if selected is None:
                raise InputError(
                    "baseline 'selected event': select the quiet stretch first (code it as an event, or pick one)"
                )
            return float(ft[min(selected.onset, ft.size - 1)]), float(ft[min(selected.offset, ft.size - 1)])
        return None


def _matched_note(matched: int) -> str:
    return f"; {matched} coincide with events you coded (not added: see their 'matches' column)" if matched else ""


def add_emg_candidates(model: AnnotateModel, clip: Clip, baseline: Baseline) -> int:
    """The EMG bursts of ``clip`` as candidates of ``model``'s coder; returns how many were added
    (``model.message`` says how many of how many bursts, on how many channels, or why none)."""
    from analysis.annotation.emg_coding import session_candidates

    try:
        evs, maps = session_candidates(
            clip, coder=model.coding.coder, baseline=baseline.segment(clip.frame_times, model.selected())
        )
    except MexlabError as exc:
        model.say(str(exc), error=True)
        return 0
    if not maps:
        model.say("EMG candidates: the session has no EMG stream", error=True)
        return 0
    added, matched = model.add_candidates(evs)
    model.say(f"EMG candidates: {added} new of {len(evs)} burst(s) on {len(maps)} channel(s)" + _matched_note(matched))
    return added


def add_spotting_candidates(model: AnnotateModel, clip: Clip) -> int:
    """The spotted intervals of ``clip``'s session as candidates of ``model``'s coder; returns how many were added."""
    from analysis.annotation.emg_coding import spotting_candidates
    from analysis.session_data import SPOTTING_FILE

    try:
        evs = spotting_candidates(clip, coder=model.coding.coder)
    except MexlabError as exc:
        model.say(str(exc), error=True)
        return 0
    if not evs and not (clip.folder and (clip.folder / SPOTTING_FILE).is_file()):
        model.say("spotting candidates: no analysis/spotting.json (run Spot in Analyze first)", error=True)
        return 0
    added, matched = model.add_candidates(evs)
    model.say(f"spotting candidates: {added} new of {len(evs)} interval(s)" + _matched_note(matched))
    return added
