"""A small session folder written byte by byte, for tests of the session-reading layer and its
consumers that must not wait for a recording: an XDF written to the format's specification
(https://github.com/sccn/xdf/wiki/Specifications) with a frame index, EMG and JSON markers, a real
FFV1 ``rgb.mkv`` written with PyAV, ``session.json``, and optionally the spotting and recognition
results. Also: cutting files the way a crash does."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from acquisition.session_read import names

BOUNDARY = bytes.fromhex("43a546dccbf5410fb30ed5467383cbe4")


def _chunk(tag: int, content: bytes) -> bytes:
    length = len(content) + 2
    return b"\x08" + struct.pack("<Q", length) + struct.pack("<H", tag) + content


def _varlen(n: int) -> bytes:
    return b"\x04" + struct.pack("<I", n)


def _header(
    sid: int, name: str, type_: str, n_ch: int, srate: float, fmt: str, channels: list[dict] | None = None
) -> bytes:
    chans = ""
    if channels:
        chans = (
            "<channels>"
            + "".join("<channel>" + "".join(f"<{k}>{v}</{k}>" for k, v in ch.items()) + "</channel>" for ch in channels)
            + "</channels>"
        )
    xml = (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{type_}</type>'
        f"<channel_count>{n_ch}</channel_count><nominal_srate>{srate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><source_id>{name}-src</source_id>"
        f"<created_at>0</created_at><desc>{chans}</desc></info>"
    )
    return _chunk(2, struct.pack("<I", sid) + xml.encode())


def _samples(sid: int, fmt: str, ts, rows) -> bytes:
    out = struct.pack("<I", sid) + _varlen(len(ts))
    for t, row in zip(ts, rows):
        out += b"\x08" + struct.pack("<d", float(t))
        if fmt == "string":
            for v in row:
                b = v.encode()
                out += _varlen(len(b)) + b
        else:
            out += struct.pack(f"<{len(row)}f", *map(float, row))
    return _chunk(3, out)


def _footer(sid: int, first: float, last: float, n: int) -> bytes:
    xml = (
        f'<?xml version="1.0"?><info><first_timestamp>{first}</first_timestamp>'
        f"<last_timestamp>{last}</last_timestamp><sample_count>{n}</sample_count></info>"
    )
    return _chunk(6, struct.pack("<I", sid) + xml.encode())


def write_xdf(path: Path, streams: list[dict], chunk: int = 50) -> None:
    """``streams``: dicts of name, type, srate, fmt (float32|string), ts, rows, channels (desc)."""
    out = bytearray(b"XDF:" + _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>'))
    for sid, s in enumerate(streams, 1):
        out += _header(
            sid,
            s["name"],
            s["type"],
            len(s["rows"][0]) if len(s["rows"]) else 1,
            s["srate"],
            s["fmt"],
            s.get("channels"),
        )
    for sid, s in enumerate(streams, 1):
        for k in range(0, len(s["ts"]), chunk):
            out += _samples(sid, s["fmt"], s["ts"][k : k + chunk], s["rows"][k : k + chunk])
        for k in (0, 1):  # two clock offsets (0 s): the clocks of one computer
            out += _chunk(4, struct.pack("<I", sid) + struct.pack("<dd", 1000.0 + 5 * k, 0.0))
    out += _chunk(5, BOUNDARY)
    for sid, s in enumerate(streams, 1):
        ts = s["ts"]
        out += _footer(sid, ts[0] if len(ts) else 0, ts[-1] if len(ts) else 0, len(ts))
    Path(path).write_bytes(bytes(out))


def write_ffv1(path: Path, n_frames: int, fps: int = 30, size=(64, 48)) -> None:
    """A real FFV1 video like rgb.mkv (bgr0, pts in ms), each frame a different grey level."""
    import av

    with av.open(str(path), "w", format="matroska") as c:
        st = c.add_stream("ffv1", rate=fps)
        st.width, st.height, st.pix_fmt = size[0], size[1], "bgr0"
        for i in range(n_frames):
            img = np.full((size[1], size[0], 3), (i * 7) % 256, np.uint8)
            img[: size[1] // 2, : size[0] // 2] = 40  # a darker quarter (a "face")
            fr = av.VideoFrame.from_ndarray(img, format="bgr24")
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)


def make_session(
    folder: Path,
    *,
    n_frames: int = 90,
    fps: int = 30,
    t0: float = 1000.0,
    spotting: list[dict] | None = None,
    recognition: list[dict] | None = None,
    emg: bool = True,
) -> Path:
    """A session folder: session.json, recording.xdf (frame index, EMG with a burst on zygomaticus
    major at frames 40-50, markers), rgb.mkv; analysis/spotting.json and recognition.json if given."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ft = t0 + np.arange(n_frames) / fps
    streams = [
        {
            "name": names.RGB_FRAMES_STREAM,
            "type": "VideoFrameIndex",
            "srate": fps,
            "fmt": "float32",
            "ts": ft,
            "rows": [[i] for i in range(n_frames)],
        },
        {
            "name": names.MARKER_STREAM,
            "type": "Markers",
            "srate": 0,
            "fmt": "string",
            "ts": [t0 + 0.2, t0 + 1.0, t0 + 2.5],
            "rows": [
                [json.dumps({"event": "protocol_start", "protocol": "demo"})],
                [json.dumps({"event": "stimulus_onset", "seq": 1, "step": "stimulus", "block": "clips"})],
                [json.dumps({"event": "stimulus_offset", "seq": 1})],
            ],
        },
    ]
    if emg:
        fs = 500
        te = t0 - 0.5 + np.arange(int((n_frames / fps + 1.0) * fs)) / fs
        rng = np.random.default_rng(1)
        x = rng.normal(0, 1.0, (te.size, 2))
        burst = (te >= t0 + 40 / fps) & (te <= t0 + 50 / fps)
        x[burst, 1] += rng.normal(0, 40.0, burst.sum())
        streams.append(
            {
                "name": "sim-EMG",
                "type": "EMG",
                "srate": fs,
                "fmt": "float32",
                "ts": te,
                "rows": x.tolist(),
                "channels": [
                    {"label": "EMG3", "muscle": "corrugator supercilii", "aus": "AU4"},
                    {"label": "EMG6", "muscle": "zygomaticus major", "aus": "AU12"},
                ],
            }
        )
    write_xdf(folder / names.XDF_NAME, streams)
    write_ffv1(folder / names.RGB_NAME, n_frames, fps)
    meta = {
        "format": names.FORMAT,
        "session_id": folder.name,
        "participant": "P01",
        "status": "complete",
        "protocol": "demo",
        "files": {"xdf": names.XDF_NAME, "rgb": names.RGB_NAME},
        "modes": {"rgb": {"fps": fps}},
        "counts": {"rgb": {"frames_written": n_frames}},
    }
    (folder / names.SIDECAR).write_text(json.dumps(meta))
    if spotting is not None:
        (folder / names.ANALYSIS_DIR).mkdir(exist_ok=True)
        (folder / names.SPOTTING_FILE).write_text(json.dumps({"fps": fps, "intervals": spotting}))
    if recognition is not None:
        (folder / names.ANALYSIS_DIR).mkdir(exist_ok=True)
        (folder / names.RECOGNITION_FILE).write_text(
            json.dumps(
                {
                    "input": str(folder),
                    "classes": ["negative", "positive", "surprise", "other"],
                    "expressions": recognition,
                }
            )
        )
    return folder


def cut(path: Path, fraction: float) -> int:
    """Cut ``path`` to ``fraction`` of its bytes (a crash); returns the new size."""
    data = Path(path).read_bytes()
    n = int(len(data) * fraction)
    Path(path).write_bytes(data[:n])
    return n
