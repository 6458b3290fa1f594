"""What every physiological analysis needs: checking that a stream can be analysed, units, gaps."""

from __future__ import annotations

import numpy as np

from acquisition.errors import DataError
from analysis.physio import chunks
from analysis.session_data import Stream

LABEL = {"ecg": "ECG", "ppg": "PPG", "eda": "EDA", "emg": "EMG"}

#: Lowest usable nominal sampling rate (Hz) of each kind of signal.
#: ECG: R peaks need a QRS (≈ 100 ms) sampled finely enough; PPG: a pulse wave at ≥ 20 Hz;
#: EDA: neurokit2's cleaning low-passes at 3 Hz (needs > 6 Hz); EMG: the 20-450 Hz band needs ≥ 200 Hz.
MIN_RATE_HZ = {"ecg": 100.0, "ppg": 20.0, "eda": 8.0, "emg": 200.0}
#: Shortest usable signal (s): heart rate and SCRs need several beats / responses.
MIN_DURATION_S = {"ecg": 10.0, "ppg": 10.0, "eda": 10.0, "emg": 2.0}

GAP_FACTOR = 2.0  # an interval > 2 nominal periods is a gap (as in acquisition.check)

# unit spellings -> (canonical unit, factor to the canonical unit)
_UNITS = {
    "eda": (
        "µS",
        {
            "us": 1.0,
            "µs": 1.0,
            "μs": 1.0,
            "microsiemens": 1.0,
            "microsiemen": 1.0,
            "micro siemens": 1.0,
            "s": 1e6,
            "siemens": 1e6,
            "ms": 1e3,
            "millisiemens": 1e3,
            "ns": 1e-3,
            "nanosiemens": 1e-3,
        },
    ),
    "emg": (
        "µV",
        {
            "uv": 1.0,
            "µv": 1.0,
            "μv": 1.0,
            "microvolts": 1.0,
            "microvolt": 1.0,
            "mv": 1e3,
            "millivolts": 1e3,
            "millivolt": 1e3,
            "v": 1e6,
            "volts": 1e6,
            "volt": 1e6,
            "nv": 1e-3,
            "nanovolts": 1e-3,
        },
    ),
    "ecg": (
        "mV",
        {
            "mv": 1.0,
            "millivolts": 1.0,
            "millivolt": 1.0,
            "uv": 1e-3,
            "µv": 1e-3,
            "μv": 1e-3,
            "microvolts": 1e-3,
            "microvolt": 1e-3,
            "v": 1e3,
            "volts": 1e3,
            "volt": 1e3,
        },
    ),
}


def unit_scale(kind: str, unit: str | None, stream: str) -> tuple[float, str, str | None]:
    """``(factor, unit_out, note)`` converting a channel recorded in ``unit`` to the standard one.

    Unknown or missing units are kept as recorded (factor 1) and explained in ``note``; for ECG
    and PPG the unit does not change any result (heart rate is counted in beats).
    """
    if kind not in _UNITS:
        return 1.0, unit or "a.u.", None
    canonical, table = _UNITS[kind]
    if unit is None:
        return (
            1.0,
            canonical,
            (
                f"{LABEL[kind]} stream {stream!r} records no unit "
                f"(desc/channels/channel/unit); its values are taken as {canonical}"
            ),
        )
    key = unit.strip().lower().replace("micro-", "micro")
    if key in table:
        return table[key], canonical, None
    if kind == "ecg":
        return 1.0, unit, None
    return (
        1.0,
        unit,
        (
            f"{LABEL[kind]} stream {stream!r} has the unit {unit!r}, which mexlab does not "
            f"know; amplitudes are given in {unit!r}, not converted to {canonical}"
        ),
    )


def check_stream(stream: Stream, kind: str, *, channel: int = 0) -> None:
    """Raise a MexlabError saying why ``stream`` cannot be analysed as ``kind``; None when it can."""
    what, name = LABEL[kind], stream.name
    if not stream.is_numeric:
        raise DataError(
            f"stream {name!r} (type {stream.type or '-'}) holds text samples (channel "
            f"format {stream.channel_format}), not a {what} signal"
        )
    if stream.fs <= 0:
        raise DataError(
            f"stream {name!r} (type {stream.type or '-'}) has no regular sampling rate "
            f"(irregular stream); a {what} signal must be sampled regularly"
        )
    if stream.fs < MIN_RATE_HZ[kind]:
        raise DataError(
            f"stream {name!r} (type {stream.type or '-'}) is sampled at {stream.fs:g} Hz; "
            f"{what} needs at least {MIN_RATE_HZ[kind]:g} Hz — is it really {what}?"
        )
    if stream.n_samples < 2 or stream.duration_s < MIN_DURATION_S[kind]:
        raise DataError(
            f"{what} stream {name!r} holds {stream.duration_s:.1f} s of signal; at least "
            f"{MIN_DURATION_S[kind]:g} s are needed"
        )
    n_finite, lo, hi = 0, np.inf, -np.inf
    for _, _, _, _, vals in chunks.windows(stream):
        x = vals[:, channel]
        x = x[np.isfinite(x)]
        if x.size:
            n_finite += x.size
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    if n_finite < 2 or hi == lo:
        raise DataError(
            f"{what} stream {name!r} channel {stream.labels[channel]!r} is flat or empty (no varying finite samples)"
        )


def signal_of(stream: Stream, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, timestamps)`` of one channel; NaN samples filled by linear interpolation."""
    if stream.spilled is not None:  # one channel of the files, piece by piece
        x, ts = np.empty(stream.n_samples), np.empty(stream.n_samples)
        for start, stop, _, t, v in chunks.windows(stream):
            x[start:stop], ts[start:stop] = v[:, channel], t
    else:
        x, ts = np.asarray(stream.data[:, channel], dtype=np.float64).copy(), stream.timestamps
    return fill_nan(x), ts


def fill_nan(x: np.ndarray) -> np.ndarray:
    """``x`` (float64, changed in place) with its NaN samples filled by linear interpolation."""
    bad = ~np.isfinite(x)
    if bad.any():
        good = np.flatnonzero(~bad)
        x[bad] = np.interp(np.flatnonzero(bad), good, x[good])
    return x


def _intervals(stream: Stream):
    """The intervals between consecutive timestamps, piece by piece (each interval once)."""
    if stream.spilled is None:
        yield np.diff(stream.timestamps)
        return
    n = stream.n_samples
    for start in range(0, n, chunks.WINDOW):
        yield np.diff(stream.spilled.read_stamps(max(0, start - 1), start + chunks.WINDOW))


def gaps(timestamps: np.ndarray, fs: float) -> np.ndarray:
    """Indices ``i`` where the interval ``timestamps[i] -> timestamps[i+1]`` is a gap."""
    if fs <= 0 or timestamps.size < 2:
        return np.zeros(0, dtype=int)
    step = 1 << 20  # piece by piece: ``timestamps`` may be an hour's, memory-mapped
    found = [
        np.flatnonzero(np.diff(timestamps[i : i + step + 1]) > GAP_FACTOR / fs) + i
        for i in range(0, timestamps.size - 1, step)
    ]
    return np.concatenate(found)


def analysis_rate(stream: Stream) -> tuple[float, str | None]:
    """The sampling rate to analyse with: the nominal one, unless the samples' timestamps say
    otherwise by more than 5 % (1 / the median interval); then the measured one, with a note."""
    n = stream.n_samples
    if n < 3 or stream.fs <= 0:
        return stream.fs, None
    if stream.spilled is None:
        median = float(np.median(np.diff(stream.timestamps)))
    else:
        median = chunks.median(lambda: _intervals(stream), n - 1)
    if median <= 0:
        return stream.fs, None
    measured = 1.0 / median
    if abs(measured / stream.fs - 1.0) <= 0.05:
        return stream.fs, None
    return measured, (
        f"stream {stream.name!r} declares {stream.fs:g} Hz but its samples arrive at "
        f"{measured:.1f} Hz; analysed at {measured:.1f} Hz"
    )


def gap_note(stream: Stream) -> str | None:
    n_gaps, lost = 0, 0.0
    for d in _intervals(stream) if stream.fs > 0 else ():
        g = d > GAP_FACTOR / stream.fs
        n_gaps += int(g.sum())
        lost += float(np.sum(d[g]))
    if not n_gaps:
        return None
    return (
        f"stream {stream.name!r} has {n_gaps} gap(s) ({lost:.1f} s without samples); the signal is "
        f"analysed as recorded and times come from the timestamps"
    )
