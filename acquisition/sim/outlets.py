"""LSL outlets of the simulated rig: EMG, ECG and EDA, streamed in real time.

Each stream is regular: sample ``n`` is stamped ``t0_lsl + n / fs`` on the LSL clock, ``t0_lsl``
being the LSL time of the rig's frame 0. A daemon thread wakes about every 20 ms and pushes every
sample whose time has come (never one from the future), as one chunk per stream whose explicit
timestamp is that of the chunk's *last* sample; liblsl derives the others from the nominal rate.
If the thread is held up it catches up on the next tick, so the streams never fall behind.
"""

from __future__ import annotations

import secrets
import threading
import time

import numpy as np
import pylsl

from acquisition.sim.physio import EMG_CHANNELS, EcgGenerator, EdaGenerator, EmgGenerator
from acquisition.sim.schedule import Schedule

TICK_S = 0.020
MAX_CHUNK_S = 1.0  # a late thread catches up in pushes of at most this much signal


class SimOutlets:
    """The rig's physiological LSL outlets (created at construction, streaming after start())."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        prefix: str = "mexlab-sim",
        source_prefix: str | None = None,
        ecg: EcgGenerator | None = None,
        eda: EdaGenerator | None = None,
        emg: EmgGenerator | None = None,
    ):
        self.schedule = schedule
        self.prefix = prefix
        self.source_prefix = source_prefix or f"{prefix}-{secrets.token_hex(4)}"
        gens = {
            "EMG": emg or EmgGenerator(schedule),
            "ECG": ecg or EcgGenerator(schedule),
            "EDA": eda or EdaGenerator(schedule),
        }
        self.generators = gens
        self.outlets: dict[str, pylsl.StreamOutlet] = {}
        self.streams: dict[str, dict] = {}
        for kind, gen in gens.items():
            name = f"{prefix}-{kind}"
            source_id = f"{self.source_prefix}-{kind}"
            info = pylsl.StreamInfo(name, kind, gen.channels, gen.fs, "float32", source_id)
            chans = info.desc().append_child("channels")
            for i in range(gen.channels):
                ch = chans.append_child("channel")
                if kind == "EMG":
                    m = EMG_CHANNELS[i]
                    ch.append_child_value("label", m["label"])
                    ch.append_child_value("muscle", m["muscle"])
                    ch.append_child_value("aus", "+".join(m["aus"]))
                    ch.append_child_value("placement", m["placement"])
                else:
                    ch.append_child_value("label", kind)
                ch.append_child_value("unit", gen.unit)
                ch.append_child_value("type", kind)
            acq = info.desc().append_child("acquisition")
            acq.append_child_value("manufacturer", "mexlab")
            acq.append_child_value("model", "simulated participant rig")
            acq.append_child_value("seed", str(schedule.seed))
            # chunk_size/max_buffered: push-through 20 ms chunks, keep 6 min for slow inlets
            self.outlets[kind] = pylsl.StreamOutlet(info, 0, 360)
            self.streams[kind] = {
                "name": name,
                "type": kind,
                "source_id": source_id,
                "channel_count": gen.channels,
                "nominal_srate": gen.fs,
            }
        self.samples_pushed: dict[str, int] = {k: 0 for k in gens}
        self.t0_lsl: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def infos(self) -> list[pylsl.StreamInfo]:
        """The outlets' stream infos (EMG, ECG, EDA), as pylsl objects."""
        return [o.get_info() for o in self.outlets.values()]

    # ------------------------------------------------------------------ control
    def start(self, t0_lsl: float) -> None:
        """Stream from ``t0_lsl`` (the LSL time of frame 0; may lie in the past or future)."""
        if self._thread is not None:
            raise RuntimeError("SimOutlets already started")
        self.t0_lsl = float(t0_lsl)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mexlab-sim-outlets", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop streaming (pushes what is due up to now first). The outlets stay open."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._thread = None

    def close(self) -> None:
        """Stop and destroy the outlets (they vanish from the network)."""
        self.stop()
        self.outlets.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ streaming
    def push_due(self, now: float | None = None) -> int:
        """Push every sample stamped ``<= now`` not yet pushed; returns how many (all streams)."""
        if self.t0_lsl is None:
            raise RuntimeError("SimOutlets not started")
        now = pylsl.local_clock() if now is None else now
        total = 0
        with self._lock:
            for kind, gen in self.generators.items():
                outlet = self.outlets.get(kind)
                if outlet is None:
                    continue
                due = int(np.floor((now - self.t0_lsl) * gen.fs)) + 1  # samples 0..due-1 are due
                n = self.samples_pushed[kind]
                step = max(1, int(MAX_CHUNK_S * gen.fs))
                while n < due:
                    n1 = min(due, n + step)
                    data = gen.generate(n, n1)
                    outlet.push_chunk(data, self.t0_lsl + (n1 - 1) / gen.fs)
                    total += n1 - n
                    n = n1
                    self.samples_pushed[kind] = n
        return total

    def _run(self) -> None:
        next_tick = time.monotonic()
        try:
            while not self._stop.is_set():
                self.push_due()
                next_tick += TICK_S
                delay = next_tick - time.monotonic()
                if delay < -TICK_S:  # far behind (suspended?): don't try to replay ticks
                    next_tick = time.monotonic()
                    delay = 0.0
                if delay > 0:
                    self._stop.wait(delay)
            self.push_due()
        except BaseException as exc:  # surfaced to the owner through .error
            self.error = exc
