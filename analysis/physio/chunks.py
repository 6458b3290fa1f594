"""A stream's samples piece by piece, so a long recording is analysed in bounded memory.

A :class:`~analysis.session_data.Stream` holds its samples in memory, or — read with
``analysis.session_data.load(…, spill_dir=…)`` — in two files (``Stream.spilled``, see
:mod:`acquisition.xdf_read`). :func:`read` and :func:`windows` give the same samples either way;
:func:`kth_smallest` and :func:`median` are exact order statistics of a series given as pieces
(never all in memory at once): the values of :func:`numpy.median`, not an approximation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from analysis.session_data import Stream

#: samples per piece (a minute of 8-channel EMG at 2 kHz is 120 000)
WINDOW = 1 << 17
_BINS = 4096
_COLLECT = 1 << 20  # values gathered at most to pick the order statistic among them


def read(stream: Stream, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps, values (n, channels))`` of the samples ``start`` to ``stop`` of ``stream``."""
    if stream.spilled is not None:
        return stream.spilled.read(start, stop)
    stop = stream.n_samples if stop is None else min(int(stop), stream.n_samples)
    start = max(0, min(int(start), stop))
    return stream.timestamps[start:stop], stream.data[start:stop]


def windows(
    stream: Stream, size: int | None = None, margin: int = 0
) -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray]]:
    """``(start, stop, lo, timestamps, values)`` per piece: samples ``start``..``stop`` of the
    stream, read with ``margin`` samples more on each side where there are (the arrays begin at
    sample ``lo``)."""
    n = stream.n_samples
    size = size or WINDOW
    for start in range(0, n, size):
        stop = min(n, start + size)
        lo = max(0, start - margin)
        ts, vals = read(stream, lo, min(n, stop + margin))
        yield start, stop, lo, ts, vals


def timestamps_at(stream: Stream, index: Iterable[int]) -> np.ndarray:
    """The timestamps of the samples ``index``."""
    idx = np.asarray(list(index), dtype=np.int64)
    if stream.spilled is not None:
        return stream.spilled.stamps_at(idx)
    return stream.timestamps[idx] if idx.size else np.zeros(0)


def first_last(stream: Stream) -> tuple[float, float] | None:
    """The first and last timestamps (None without samples)."""
    if not stream.n_samples:
        return None
    if stream.spilled is not None:
        return stream.first_last
    return float(stream.timestamps[0]), float(stream.timestamps[-1])


def kth_smallest(pieces: Callable[[], Iterable[np.ndarray]], k: int) -> float:
    """The ``k``-th smallest (0-based) of the values ``pieces()`` yields (called again for each pass):
    a histogram of the values narrows the range holding it until few enough are left to sort."""
    n, lo, hi = 0, np.inf, -np.inf
    for p in pieces():
        if p.size:
            n += p.size
            lo, hi = min(lo, float(p.min())), max(hi, float(p.max()))
    if not 0 <= k < n:
        raise IndexError(f"rank {k} of {n} values")
    below = 0  # values < lo
    while True:
        edges = np.linspace(lo, hi, _BINS + 1)
        counts = np.zeros(_BINS, dtype=np.int64)
        for p in pieces():
            p = p[(p >= lo) & (p <= hi)]
            counts += np.bincount(np.clip(np.searchsorted(edges, p, side="right") - 1, 0, _BINS - 1), minlength=_BINS)
        cum = below + np.cumsum(counts)
        j = int(np.searchsorted(cum, k, side="right"))
        before = int(cum[j] - counts[j])
        b_lo, b_hi = edges[j], edges[j + 1]
        last = j == _BINS - 1

        def inside(p, b_lo=b_lo, b_hi=b_hi, last=last):
            return p[(p >= b_lo) & ((p <= b_hi) if last else (p < b_hi))]

        if counts[j] <= _COLLECT:
            got = np.concatenate([inside(p) for p in pieces()] or [np.zeros(0)])
            return float(np.partition(got, k - before)[k - before])
        if not (lo < b_lo or b_hi < hi) or b_lo == b_hi:
            # the bin cannot be split any more: its values are a few floats some ulps apart (the
            # intervals of a perfectly regular clock): count each distinct value, do not gather them
            tally: dict[float, int] = {}
            for p in pieces():
                v, c = np.unique(inside(p), return_counts=True)
                for x, m in zip(v.tolist(), c.tolist()):
                    tally[x] = tally.get(x, 0) + m
            r = k - before
            for x in sorted(tally):
                r -= tally[x]
                if r < 0:
                    return float(x)
            raise AssertionError("kth_smallest: the bin's counts disagree between passes")
        below, lo, hi = before, b_lo, b_hi
        if not last:  # the next pass must hold exactly this bin's values: [b_lo, b_hi)
            hi = float(np.nextafter(b_hi, -np.inf))


def median(pieces: Callable[[], Iterable[np.ndarray]], n: int) -> float:
    """:func:`numpy.median` of the ``n`` values ``pieces()`` yields (see :func:`kth_smallest`)."""
    if n % 2:
        return kth_smallest(pieces, n // 2)
    a, b = kth_smallest(pieces, n // 2 - 1), kth_smallest(pieces, n // 2)
    return float(np.mean(np.array([a, b])))
