"""Finding LSL streams, the pre-flight, and live monitors of what arrives.

A stream is asked for as ``NAME`` or ``name=NAME``, ``type=TYPE`` or ``source_id=ID``. The pre-flight
resolves every request within a timeout and names what is missing together with what the network
does offer. :class:`StreamMonitor` opens its own inlet on a recorded stream and counts samples and
gaps while LabRecorder writes the file, so losses are seen live, not only afterwards.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pylsl

from acquisition.errors import MexlabError, StreamNotFoundError
from acquisition.lsl_config import quiet_liblsl

_PROPS = ("name", "type", "source_id")


@dataclass(frozen=True)
class StreamRequest:
    prop: str
    value: str

    @classmethod
    def parse(cls, text: str) -> StreamRequest:
        text = text.strip()
        if not text:
            raise MexlabError("--lsl: empty stream name")
        if "=" in text:
            prop, value = text.split("=", 1)
            prop = prop.strip().lower()
            if prop not in _PROPS:
                raise MexlabError(
                    f"--lsl {text}: unknown property {prop!r}; use NAME, name=NAME, type=TYPE or source_id=ID"
                )
            if not value:
                raise MexlabError(f"--lsl {text}: no value after '='")
            return cls(prop, value)
        return cls("name", text)

    def __str__(self) -> str:
        return self.value if self.prop == "name" else f"{self.prop}={self.value}"


@dataclass
class FoundStream:
    name: str
    type: str
    source_id: str
    hostname: str
    channel_count: int
    nominal_srate: float
    channel_format: int
    uid: str
    info: pylsl.StreamInfo = field(repr=False, compare=False, default=None)

    @classmethod
    def from_info(cls, info: pylsl.StreamInfo) -> FoundStream:
        return cls(
            name=info.name(),
            type=info.type(),
            source_id=info.source_id(),
            hostname=info.hostname(),
            channel_count=info.channel_count(),
            nominal_srate=info.nominal_srate(),
            channel_format=info.channel_format(),
            uid=info.uid(),
            info=info,
        )

    def describe(self) -> str:
        rate = f"{self.nominal_srate:g} Hz" if self.nominal_srate > 0 else "irregular"
        return f"{self.name} (type {self.type or '-'}, {self.channel_count} ch, {rate}, on {self.hostname})"

    def predicate(self) -> dict[str, str]:
        """What LabRecorderCLI is told to match: the stream's own name and source_id."""
        pred = {"name": self.name}
        if self.source_id:
            pred["source_id"] = self.source_id
        else:
            pred["hostname"] = self.hostname
        return pred


def list_streams(wait: float = 1.0) -> list[FoundStream]:
    quiet_liblsl()
    return [FoundStream.from_info(i) for i in pylsl.resolve_streams(wait_time=wait)]


def preflight(requests: list[StreamRequest], timeout: float = 5.0) -> list[FoundStream]:
    quiet_liblsl()
    """Resolve every request; one clear error naming all that are missing and what exists."""
    found: list[FoundStream] = []
    missing: list[StreamRequest] = []
    for req in requests:
        infos = pylsl.resolve_byprop(req.prop, req.value, minimum=1, timeout=timeout)
        if not infos:
            missing.append(req)
            continue
        # several streams may match a type: take them all, but each stream once
        for info in infos:
            fs = FoundStream.from_info(info)
            if all(fs.uid != f.uid for f in found):
                found.append(fs)
    if missing:
        available = list_streams(wait=1.0)
        avail = "; ".join(s.describe() for s in available) or "none"
        names = ", ".join(str(m) for m in missing)
        raise StreamNotFoundError(
            f"LSL stream{'s' if len(missing) > 1 else ''} not found within {timeout:g} s: {names}. "
            f"Streams on the network: {avail}"
        )
    return found


class StreamMonitor(threading.Thread):
    """Pull a stream in the background: count samples and gaps, keep the latest seconds for display."""

    def __init__(self, stream: FoundStream, keep_seconds: float = 10.0):
        super().__init__(name=f"mexlab-monitor-{stream.name}", daemon=True)
        self.stream = stream
        self.samples = 0
        self.gaps = 0
        self.missing_samples = 0
        self.last_timestamp: float | None = None
        self._stop_evt = threading.Event()
        rate = stream.nominal_srate
        self._period = 1.0 / rate if rate > 0 else None
        keep = int(max(1, rate) * keep_seconds) if rate > 0 else 1000
        self._lock = threading.Lock()
        self._numeric = stream.channel_format != pylsl.cf_string
        # numeric streams: a ring buffer (cheap to read 30 times a second); strings: a deque
        self._keep = keep
        self._ring_t = np.zeros(keep)
        self._ring_v = np.zeros((keep, max(1, stream.channel_count)), dtype=np.float32) if self._numeric else None
        self._ring_n = 0  # samples written so far
        self._times: deque = deque(maxlen=keep)
        self._values: deque = deque(maxlen=keep)
        self._inlet = pylsl.StreamInlet(stream.info, max_buflen=60, recover=True)
        self.started = threading.Event()
        # count only what belongs to the recording: samples stamped inside [window_start, window_end]
        self.window_start: float | None = None
        self.window_end: float | None = None

    def stop(self) -> None:
        self._stop_evt.set()

    def recent(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, values) of the last seconds, oldest first, for live display."""
        with self._lock:
            if not self._numeric:
                return np.asarray(self._times), np.asarray(list(self._values))
            n, k = self._ring_n, self._keep
            if n <= k:
                return self._ring_t[:n].copy(), self._ring_v[:n].copy()
            i = n % k
            return (
                np.concatenate((self._ring_t[i:], self._ring_t[:i])),
                np.concatenate((self._ring_v[i:], self._ring_v[:i])),
            )

    def _store(self, data, stamps) -> None:
        ts = np.asarray(stamps, dtype=float)
        vals = np.asarray(data, dtype=np.float32).reshape(len(ts), -1)
        k = self._keep
        if len(ts) > k:
            ts, vals = ts[-k:], vals[-k:]
        with self._lock:
            i = self._ring_n % k
            first = min(len(ts), k - i)
            self._ring_t[i : i + first] = ts[:first]
            self._ring_v[i : i + first] = vals[:first]
            rest = len(ts) - first
            if rest:
                self._ring_t[:rest] = ts[first:]
                self._ring_v[:rest] = vals[first:]
            self._ring_n += len(ts)

    def _count(self, stamps: list[float]) -> None:
        if not stamps:
            return
        ts = np.asarray(stamps, dtype=float)
        if self.window_start is not None:
            ts = ts[ts >= self.window_start]
        if self.window_end is not None:
            ts = ts[ts <= self.window_end]
        if not len(ts):
            return
        if self._period is not None:
            prev = self.last_timestamp
            seq = ts if prev is None else np.concatenate(([prev], ts))
            d = np.diff(seq)
            big = d > 2.0 * self._period
            if big.any():
                self.gaps += int(big.sum())
                self.missing_samples += int(np.round(d[big] / self._period).sum() - big.sum())
        self.samples += len(ts)
        self.last_timestamp = float(ts[-1])

    def run(self) -> None:
        try:
            self._inlet.open_stream(timeout=5.0)
        except Exception:
            pass
        self.started.set()
        numeric = self.stream.channel_format != pylsl.cf_string
        while not self._stop_evt.is_set():
            try:
                data, stamps = self._inlet.pull_chunk(timeout=0.1, max_samples=4096)
            except Exception:
                continue
            if stamps:
                self._count(stamps)
                if numeric:
                    self._store(data, stamps)
                else:
                    with self._lock:
                        self._times.extend(stamps)
                        self._values.extend(d[0] for d in data)
        try:
            self._inlet.close_stream()
        except Exception:
            pass
        self._inlet = None  # destroys the inlet: no reconnection attempts after the recording
