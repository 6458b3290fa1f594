"""Physiology of one recording: heart (ECG or PPG), skin conductance (EDA) and facial EMG.

:func:`analyse` finds the streams (by LSL type, or by the names given), checks that each can be
analysed, and runs :mod:`.ecg`, :mod:`.eda` and :mod:`.emg`. A kind of signal the recording lacks,
or whose stream (found by type) cannot be analysed, is listed in ``missing`` with the reason; a
stream *named* by the user that cannot be analysed raises a MexlabError instead.

Given a path, the recording is read with its fast streams (EMG, ECG: 100 Hz or more) kept in files
rather than in memory, and analysed from there piece by piece (:mod:`analysis.physio.chunks`): an
hour-long session is analysed in memory that does not grow with its length (docs/benchmarks.md,
"Memory on a long session"). For a session folder those files are the session's stream cache
(:mod:`acquisition.session_read.stream_cache`: its XDF is parsed once, at the recording's stop or
the first analysis, and not again); for a plain XDF file a temporary folder, removed when the
analysis is done, so the streams then hold no samples of those streams (their derived series are in
the result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acquisition.errors import MexlabError
from analysis.physio.ecg import CardiacResult, analyse_cardiac
from analysis.physio.eda import EdaResult, analyse_eda
from analysis.physio.emg import EmgChannelResult, analyse_emg
from analysis.session_data import STREAM_TYPES, SessionData, Stream, load

__all__ = ["PhysioAnalysis", "analyse", "CardiacResult", "EdaResult", "EmgChannelResult"]


@dataclass
class PhysioAnalysis:
    session: SessionData
    cardiac: CardiacResult | None = None
    eda: EdaResult | None = None
    emg: list[EmgChannelResult] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rest_windows: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self) -> dict:
        s = self.session
        out: dict = {
            "path": str(s.path),
            "session_id": s.session_id,
            "participant": s.participant,
            "protocol": s.protocol,
            "start_lsl": round(s.start, 6),
            "duration_s": round(s.duration_s, 3),
            "markers": len(s.markers),
            "me_events": len(s.me_events),
            "me_source": s.me_source,
        }
        if self.cardiac is not None:
            out[self.cardiac.kind] = self.cardiac.to_json()
        if self.eda is not None:
            out["eda"] = self.eda.to_json()
        if self.emg:
            out["emg"] = [c.to_json() for c in self.emg]
        if self.missing:
            out["missing"] = dict(self.missing)
        out["notes"] = list(self.notes)
        return out


def _types(kind: str) -> str:
    return " or ".join(STREAM_TYPES[kind])


def _pick(data: SessionData, kind: str, name: str | None) -> tuple[Stream | None, bool, str | None]:
    """``(stream, named, why_missing)``."""
    if name:
        return data.stream(name), True, None
    found = data.of_kind(kind)
    if not found:
        return None, False, f"no stream of type {_types(kind)} in {data.xdf}"
    return found[0], False, None


def _run(kind: str, stream: Stream, named: bool, fn, result: PhysioAnalysis):
    """``fn(stream)``; a failure of a stream found by type becomes a ``missing`` entry."""
    try:
        return fn(stream)
    except MexlabError as exc:
        if named:
            raise
        result.missing[kind] = str(exc)
        return None


def analyse(
    session: SessionData | Path | str,
    *,
    ecg: str | None = None,
    ppg: str | None = None,
    eda: str | None = None,
    emg: list[str] | str | None = None,
) -> PhysioAnalysis:
    """Analyse the physiology of a session folder or XDF file (or an already loaded session).

    ``ecg``/``ppg``/``eda``/``emg``: stream names (or source_ids) to use instead of searching by
    LSL type. The heart is analysed from the ECG; from the PPG only when there is no usable ECG or
    a PPG stream is named. EMG: every stream of type EMG (or the ones named), every channel.
    """
    import tempfile

    if isinstance(session, SessionData):
        return _analyse(session, ecg=ecg, ppg=ppg, eda=eda, emg=emg)
    with tempfile.TemporaryDirectory(prefix="mexlab-physio-") as td:
        return _analyse(load(session, spill_dir=td, kept=True), ecg=ecg, ppg=ppg, eda=eda, emg=emg)


def _analyse(data: SessionData, *, ecg, ppg, eda, emg) -> PhysioAnalysis:
    from analysis.physio.events import rest_windows

    result = PhysioAnalysis(session=data, notes=list(data.notes))
    result.rest_windows = rest_windows(data)

    if ppg:
        result.cardiac = analyse_cardiac(data.stream(ppg), "ppg")
    else:
        stream, named, why = _pick(data, "ecg", ecg)
        if stream is not None:
            result.cardiac = _run("ecg", stream, named, lambda s: analyse_cardiac(s, "ecg"), result)
        else:
            result.missing["ecg"] = why
        if result.cardiac is None and not ecg and data.of_kind("ppg"):
            stream = data.of_kind("ppg")[0]
            result.cardiac = _run("ppg", stream, False, lambda s: analyse_cardiac(s, "ppg"), result)
            if result.cardiac is not None:
                result.missing["ecg"] += f"; the heart rate comes from the PPG stream {stream.name!r}"

    stream, named, why = _pick(data, "eda", eda)
    if stream is not None:
        result.eda = _run("eda", stream, named, analyse_eda, result)
    else:
        result.missing["eda"] = why

    names = [emg] if isinstance(emg, str) else list(emg or [])
    streams = [(data.stream(n), True) for n in names] or [(s, False) for s in data.of_kind("emg")]
    base = result.rest_windows[0] if result.rest_windows else None
    for s, named_emg in streams:
        got = _run("emg", s, named_emg, lambda st: analyse_emg(st, baseline=base), result)
        result.emg.extend(got or [])
    if not streams:
        result.missing["emg"] = f"no stream of type {_types('emg')} in {data.xdf}"

    for part in (result.cardiac, result.eda, *result.emg):
        for note in part.notes if part is not None else ():
            if note not in result.notes:
                result.notes.append(note)
    return result
