"""EMG coding: which muscle each EMG channel records and which AUs that muscle produces, and the
EMG bursts of a session as candidate events a coder accepts, edits or rejects.

The channel map comes from the XDF (``desc/channels/channel/{label, muscle, aus}``, as the
simulated rig writes) when present, else from :data:`DEFAULT_MUSCLE_AUS` by the channel label
naming a muscle, and can be overridden by the user (``{label: {"muscle": ..., "aus": "AU12"}}``).
Onsets: :func:`analysis.physio.emg.emg_onsets` (rectified, band-passed and low-passed envelope,
neurokit2), intensity = peak envelope / baseline level, over a baseline segment when given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.annotation.clip import Clip
from analysis.annotation.model import Event

if TYPE_CHECKING:
    from acquisition.session_read.streams import Stream

#: muscle -> AUs (seed of the EMG coding system; electrodes placed peripherally)
DEFAULT_MUSCLE_AUS: dict[str, str] = {
    "frontalis medialis": "AU1",
    "frontalis lateralis": "AU2",
    "frontalis": "AU1+AU2",
    "corrugator supercilii": "AU4",
    "orbicularis oculi": "AU6",
    "levator labii superioris": "AU9+AU10",
    "zygomaticus major": "AU12",
    "depressor anguli oris": "AU15",
    "mentalis": "AU17",
}


@dataclass
class ChannelMap:
    label: str
    muscle: str
    aus: str


def channel_maps(xdf: Path, overrides: dict | None = None) -> tuple[str | None, list[ChannelMap]]:
    """(name of the EMG stream, its channels' maps) read from an XDF's stream description (through
    the crash-tolerant reader: a cut file gives the channels it describes; an unreadable one none)."""
    from acquisition.errors import MexlabError
    from acquisition.session_read.streams import read_streams

    try:
        emg = read_streams(xdf, select=[{"type": "EMG"}]).of_type("EMG")
    except MexlabError:  # unreadable: nothing to map (the caller's load says why)
        return None, []
    if not emg:
        return None, []
    return emg[0].name, stream_channel_maps(emg[0], overrides)


def stream_channel_maps(stream: Stream, overrides: dict | None = None) -> list[ChannelMap]:
    """The maps of an EMG :class:`~acquisition.session_read.streams.Stream`'s channels."""
    out = []
    for i, ch in enumerate(stream.channel_desc()):
        label = str(ch.get("label") or "") or f"ch{i + 1}"
        muscle = str(ch.get("muscle") or "") or (label if label.lower() in DEFAULT_MUSCLE_AUS else "")
        aus = str(ch.get("aus") or "") or DEFAULT_MUSCLE_AUS.get(muscle.lower(), "")
        o = (overrides or {}).get(label, {})
        out.append(ChannelMap(label, o.get("muscle", muscle), o.get("aus", aus)))
    return out


def emg_candidates(
    signal_by_label: dict[str, tuple[np.ndarray, np.ndarray, float]],
    maps: list[ChannelMap],
    clip: Clip,
    baseline: tuple[float, float] | None = None,
    coder: str = "",
) -> list[Event]:
    """Candidate events from the EMG bursts of each mapped channel.

    ``signal_by_label``: ``{label: (samples, lsl_timestamps, fs)}``; ``baseline``: (t0, t1) LSL s.
    A burst becomes an event (status candidate, source emg) with the channel's AUs, its frames the
    frames shown during the burst, its apex at the envelope peak, and
    ``notes = "EMG <label> (<muscle>) x<intensity>"``.
    """
    from analysis.physio.emg import emg_envelope, emg_onsets

    out = []
    clock = clip.clock
    for m in maps:
        if m.label not in signal_by_label or not m.aus:
            continue
        x, ts, fs = signal_by_label[m.label]
        rel = None if baseline is None else (baseline[0] - ts[0], baseline[1] - ts[0])
        try:
            bursts = emg_onsets(x, fs, rel)
        except ValueError:
            bursts = emg_onsets(x, fs, None)
        env = emg_envelope(x, fs) if bursts else None
        for on, off, inten in bursts:
            a, b = int(on * fs), min(int(off * fs), len(x) - 1)
            peak = a + int(np.argmax(env[a : b + 1]))
            fr = np.ceil(clock.frame_of(np.array([ts[a], ts[peak], ts[b]])))  # the first frame at or after
            f_on, f_ap, f_off = (int(min(max(f, 0), max(clip.n_frames - 1, 0))) for f in fr)
            out.append(
                Event(
                    onset=f_on,
                    offset=max(f_on, f_off),
                    apex=min(max(f_ap, f_on), max(f_on, f_off)),
                    aus=m.aus,
                    status="candidate",
                    source="emg",
                    coder=coder,
                    confidence=None,
                    notes=f"EMG {m.label} ({m.muscle}) x{inten:.1f}",
                ).retyped(clip.fps)
            )
    return sorted(out, key=lambda e: e.onset)


def session_candidates(
    clip: Clip, coder: str = "", overrides: dict | None = None, baseline: tuple[float, float] | None = None
) -> tuple[list[Event], list[ChannelMap]]:
    """EMG candidates of a session folder: (events, channel maps)."""
    from analysis.session_data import load

    if clip.folder is None:
        return [], []
    data = load(clip.folder)
    emg = data.of_kind("emg")
    if not emg:
        return [], []
    stream = emg[0]
    maps = stream_channel_maps(stream, overrides)
    signals = {
        lab: (np.asarray(stream.data[:, i], dtype=float), stream.timestamps, stream.fs)
        for i, lab in enumerate(stream.labels)
    }
    return emg_candidates(signals, maps, clip, baseline, coder), maps


def spotting_candidates(clip: Clip, coder: str = "") -> list[Event]:
    """The intervals of ``<session>/analysis/spotting.json`` as candidate events (source spotting)."""
    from acquisition.session_read.names import SPOTTING_FILE
    from analysis.session_data import read_spotting

    if clip.folder is None or not (clip.folder / SPOTTING_FILE).is_file():
        return []
    path = clip.folder / SPOTTING_FILE
    rows, _ = read_spotting(path)
    from acquisition.errors import SessionFormatError

    try:
        out = []
        for r in rows:
            if str(r.get("type", "micro")) not in ("micro", "macro"):
                continue
            aus = r.get("aus") or ""
            out.append(
                Event(
                    onset=int(r["onset"]),
                    offset=int(r["offset"]),
                    apex=int(r["apex"]),
                    aus="+".join(map(str, aus)) if isinstance(aus, list) else str(aus),
                    type=str(r.get("type", "micro")),
                    status="candidate",
                    source="spotting",
                    coder=coder,
                    confidence=r.get("score"),
                )
            )
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SessionFormatError(f"{path}: not a spotting result ({exc})") from None
