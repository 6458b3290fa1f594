"""The LSL outlets mexlab itself publishes: the marker stream and one frame-index stream per video."""

from __future__ import annotations

import json
import threading
from typing import Any

import pylsl

from acquisition.session_read.names import MARKER_STREAM, frame_index_stream


def _channels(desc, labels, units=None):
    chans = desc.append_child("channels")
    for i, label in enumerate(labels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        if units:
            ch.append_child_value("unit", units[i])


class FrameIndexOutlet:
    """``mexlab-<video>-frames``: one sample per video frame, stamped with its capture time."""

    CHANNELS = ("frame", "camera_frame", "camera_timestamp_ms")

    def __init__(self, video: str, fps: float, session_id: str, filename: str, codec: str):
        info = pylsl.StreamInfo(
            frame_index_stream(video),
            "VideoFrameIndex",
            len(self.CHANNELS),
            float(fps),
            pylsl.cf_double64,
            f"mexlab-{session_id}-{video}",
        )
        desc = info.desc()
        _channels(desc, self.CHANNELS, ("index", "index", "ms"))
        desc.append_child("synchronization").append_child_value("can_drop_samples", "true")
        v = desc.append_child("video")
        v.append_child_value("file", filename)
        v.append_child_value("codec", codec)
        v.append_child_value("stream", video)
        self.info = info
        self.outlet = pylsl.StreamOutlet(info, chunk_size=1, max_buffered=360)
        self.name = info.name()
        self.source_id = info.source_id()
        self.pushed = 0

    def push(self, frame_in_file: int, camera_frame: int, camera_ts_ms: float, lsl_time: float) -> None:
        if self.outlet is None:
            return  # closed: the recording is over
        self.outlet.push_sample([float(frame_in_file), float(camera_frame), float(camera_ts_ms)], lsl_time)
        self.pushed += 1

    def close(self) -> None:
        """Take the stream off the network (frees its ports); later pushes go nowhere."""
        self.outlet = None


class MarkerOutlet:
    """``mexlab-markers`` (type Markers): every event as a JSON string."""

    def __init__(self, session_id: str, name: str = MARKER_STREAM):
        info = pylsl.StreamInfo(
            name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, f"mexlab-{session_id}-markers"
        )
        info.desc().append_child_value("format", "json")
        self.info = info
        self.outlet = pylsl.StreamOutlet(info)
        self.name = name
        self.source_id = info.source_id()
        self.pushed = 0
        self._lock = threading.Lock()
        self.history: list[tuple[float, dict]] = []  # (timestamp, payload) of every marker pushed

    def nearest(self, t: float, max_distance_s: float = 30.0, skip: tuple = ()) -> tuple[float, dict] | None:
        """The marker closest in time to ``t`` (for "what was happening when…")."""
        with self._lock:
            cands = [h for h in self.history if h[1].get("event") not in skip]
            best = min(cands, key=lambda h: abs(h[0] - t), default=None)
        return best if best is not None and abs(best[0] - t) <= max_distance_s else None

    def push(self, event: str, timestamp: float | None = None, **fields: Any) -> float:
        """Push one marker; returns its LSL timestamp (``timestamp`` or now)."""
        ts = pylsl.local_clock() if timestamp is None else float(timestamp)
        payload = {"event": event, **fields}
        with self._lock:
            if self.outlet is not None:  # closed: the recording is over, only the history keeps it
                self.outlet.push_sample([json.dumps(payload, sort_keys=True)], ts)
                self.pushed += 1
            self.history.append((ts, payload))
        return ts

    def close(self) -> None:
        """Take the stream off the network (frees its ports); the history stays readable."""
        with self._lock:
            self.outlet = None
