"""Event-locked physiological responses: around protocol markers and around micro-expressions.

Events
  * protocol markers (``mexlab-markers``, JSON with at least "event"): by default every marker
    whose event is ``stimulus_onset``, ``question_onset`` or ``question`` (``trial_start`` when a
    session has none of those) and whose "step" field, when it has one (the protocol engine writes
    the step type there), is ``stimulus``, ``question`` or ``act`` — not a fixation, instructions,
    rest, self-report or pause;
  * ME events of the session (``analysis/spotting.json`` or ``ground_truth.csv``), at their onset.

Rest steps: a ``stimulus_onset`` or ``trial_start`` marker whose "step" (or "step_type") field is
``rest`` or ``baseline`` opens a rest window that lasts until the next marker (at most
``Windows.rest_max_s``). When a session has rest windows, the baseline of an event is the last rest
window that started before it (else the first one); otherwise the ``pre`` window just before it.

Per event (see :class:`Windows` for the windows, in s relative to the event):
  * ``hr_change_bpm``: mean HR over ``hr`` minus the baseline HR; ``hr_peak_change_bpm``: max HR
    over ``hr`` minus the baseline;
  * ``scr_amplitude``: amplitude of the first SCR whose onset falls ``scr_latency`` s after the
    event (0 when there is none: a non-response), ``scr_latency_s`` (None for a non-response);
  * ``emg``: per EMG channel, the peak envelope over ``emg`` divided by the baseline envelope
    (its level over the first rest window, else the median over ``emg_pre``).

Condition spans: a marker with a "condition" field (other than an end event) opens a span of that
condition, which ends at the next marker with a condition, a rest step, an event in
:data:`SPAN_END_EVENTS` (trial_end, block_end, protocol_end, recording_stop), or the recording's
end; touching spans of one condition are one span. A marker event takes the condition of its own field, an ME the condition of the span it
starts in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.session_data import SessionData

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from analysis.physio import PhysioAnalysis
    from analysis.session_data import Marker

STIMULUS_EVENTS = ("stimulus_onset", "question_onset", "question")
#: step types (marker field "step", as the protocol engine writes it) whose onset is an event;
#: fixations, instructions, rest, self-reports and pauses are not
LOCKED_STEPS = ("stimulus", "question", "act")
REST_EVENTS = ("stimulus_onset", "trial_start")
REST_STEPS = ("rest", "baseline")
SPAN_END_EVENTS = ("trial_end", "block_end", "protocol_end", "recording_stop")
MARKER_FIELDS = ("protocol", "block", "trial", "stimulus", "question", "condition")


@dataclass(frozen=True)
class Windows:
    hr: tuple[float, float] = (0.0, 6.0)
    pre: tuple[float, float] = (-3.0, 0.0)
    scr_latency: tuple[float, float] = (1.0, 5.0)
    emg: tuple[float, float] = (-0.25, 1.0)
    emg_pre: tuple[float, float] = (-2.0, -0.25)
    rest_max_s: float = 120.0


@dataclass
class EventResponse:
    source: str  # "marker" | "me"
    label: str  # marker event, or ME type
    time: float  # LSL s
    condition: str | None = None
    fields: dict = field(default_factory=dict)  # protocol/block/trial/stimulus/question
    baseline: str = "pre-event"  # "rest" | "pre-event"
    hr_baseline_bpm: float = float("nan")
    hr_change_bpm: float = float("nan")
    hr_peak_change_bpm: float = float("nan")
    scr_amplitude: float = float("nan")
    scr_latency_s: float | None = None
    emg: dict = field(default_factory=dict)  # channel label -> peak / baseline

    def to_json(self, t0: float = 0.0) -> dict:
        f = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 4)  # noqa: E731
        return {
            "source": self.source,
            "label": self.label,
            "t": round(self.time - t0, 4),
            "condition": self.condition,
            **self.fields,
            "baseline": self.baseline,
            "hr_baseline_bpm": f(self.hr_baseline_bpm),
            "hr_change_bpm": f(self.hr_change_bpm),
            "hr_peak_change_bpm": f(self.hr_peak_change_bpm),
            "scr_amplitude": f(self.scr_amplitude),
            "scr_latency_s": f(self.scr_latency_s),
            "emg": {k: f(v) for k, v in self.emg.items()},
        }

    @property
    def emg_max(self) -> float:
        vals = [v for v in self.emg.values() if np.isfinite(v)]
        return max(vals) if vals else float("nan")


def _is_rest(m) -> bool:
    step = m.get("step", m.get("step_type"))
    return m.event in REST_EVENTS and isinstance(step, str) and step.lower() in REST_STEPS


def rest_windows(data: SessionData, max_s: float = Windows.rest_max_s) -> list[tuple[float, float]]:
    """``[(t0, t1)]`` LSL s of the rest steps (module doc)."""
    out = []
    marks = data.markers
    for i, m in enumerate(marks):
        if _is_rest(m):
            nxt = next((n.time for n in marks[i + 1 :] if n.time > m.time), data.end)
            t1 = min(nxt, m.time + max_s, max(data.end, m.time))
            if t1 > m.time:
                out.append((m.time, t1))
    return out


def condition_spans(data: SessionData) -> list[tuple[float, float, str]]:
    """``[(t0, t1, condition)]`` LSL s (module doc)."""
    spans: list[tuple[float, float, str]] = []
    open_: tuple[float, str] | None = None
    for m in data.markers:
        ends = m.get("condition") is not None or _is_rest(m) or m.event in SPAN_END_EVENTS
        if open_ is not None and ends:
            if m.time > open_[0]:
                spans.append((open_[0], m.time, open_[1]))
            open_ = None
        if m.get("condition") is not None and not _is_rest(m) and m.event not in SPAN_END_EVENTS:
            open_ = (m.time, str(m.get("condition")))
    if open_ is not None and data.end > open_[0]:
        spans.append((open_[0], data.end, open_[1]))
    # consecutive pieces of the same condition are one span
    merged: list[tuple[float, float, str]] = []
    for s in spans:
        if merged and merged[-1][2] == s[2] and abs(merged[-1][1] - s[0]) < 1e-9:
            merged[-1] = (merged[-1][0], s[1], s[2])
        else:
            merged.append(s)
    return merged


def condition_at(spans: Iterable[tuple[float, float, str]], t: float) -> str | None:
    for t0, t1, c in spans:
        if t0 <= t < t1:
            return c
    return None


def stimulus_markers(data: SessionData, events: Collection[str] | None = None) -> list[Marker]:
    """The protocol markers that events are locked to (module doc)."""
    chosen = events or STIMULUS_EVENTS

    def locked(m) -> bool:
        step = m.get("step")
        return events is not None or not isinstance(step, str) or step in LOCKED_STEPS

    marks = [m for m in data.markers if m.event in chosen and not _is_rest(m) and locked(m)]
    if not marks and events is None:
        marks = [m for m in data.markers if m.event == "trial_start" and not _is_rest(m)]
    return marks


def _baseline_window(t: float, rests, w: Windows) -> tuple[tuple[float, float], str]:
    if rests:
        before = [r for r in rests if r[0] <= t]
        return (before[-1] if before else rests[0]), "rest"
    return (t + w.pre[0], t + w.pre[1]), "pre-event"


def respond(pa: PhysioAnalysis, t: float, w: Windows) -> dict:
    """The responses (module doc) to one event at LSL time ``t``."""
    rests = pa.rest_windows
    (b0, b1), how = _baseline_window(t, rests, w)
    out: dict = {"baseline": how}
    c = pa.cardiac
    if c is not None:
        base = c.mean_hr_between(b0, b1)
        grid = np.arange(t + w.hr[0], t + w.hr[1] + 1e-9, 0.25)
        hr = c.hr_at(grid)
        out["hr_baseline_bpm"] = base
        if np.isfinite(hr).any() and np.isfinite(base):
            out["hr_change_bpm"] = float(np.nanmean(hr)) - base
            out["hr_peak_change_bpm"] = float(np.nanmax(hr)) - base
    e = pa.eda
    if e is not None and e.t[0] <= t + w.scr_latency[0] and t + w.scr_latency[1] <= e.t[-1] + 1e-9:
        hit = e.first_scr_after(t, w.scr_latency)
        out["scr_amplitude"], out["scr_latency_s"] = hit if hit else (0.0, None)
    emg = {}
    for ch in pa.emg:
        if rests:
            emg[ch.channel] = ch.relative(t + w.emg[0], t + w.emg[1])
        else:
            m = (ch.env_t >= t + w.emg_pre[0]) & (ch.env_t <= t + w.emg_pre[1])
            post = (ch.env_t >= t + w.emg[0]) & (ch.env_t <= t + w.emg[1])
            ok = m.any() and post.any() and np.median(ch.env[m]) > 0
            emg[ch.channel] = float(ch.env[post].max() / np.median(ch.env[m])) if ok else float("nan")
    out["emg"] = emg
    return out


def event_responses(
    pa: PhysioAnalysis, windows: Windows = Windows(), *, marker_events: Collection[str] | None = None
) -> list[EventResponse]:
    """Responses to every protocol marker event and every ME event of the session, by time."""
    data = pa.session
    spans = condition_spans(data)
    out = []
    for m in stimulus_markers(data, marker_events):
        cond = m.get("condition")
        out.append(
            EventResponse(
                source="marker",
                label=m.event,
                time=m.time,
                condition=str(cond) if cond is not None else condition_at(spans, m.time),
                fields={k: m.get(k) for k in MARKER_FIELDS[:-1] if m.get(k) is not None},
                **respond(pa, m.time, windows),
            )
        )
    for ev in data.me_events:
        out.append(
            EventResponse(
                source="me",
                label=ev.type,
                time=ev.onset,
                condition=condition_at(spans, ev.onset),
                fields={"aus": ev.aus} if ev.aus else {},
                **respond(pa, ev.onset, windows),
            )
        )
    out.sort(key=lambda r: r.time)
    return out
