"""Placeholder stimuli for the built-in paradigms, made by mexlab itself (no copyrighted film ships).

Emotion-eliciting films (e.g. the clips of Gross & Levenson 1995, or those used for CASME II and SAMM)
are copyrighted and cannot be shipped. The built-in protocols therefore play generated placeholders:
short H.264/AAC clips with a moving pattern, the name of the emotion the real clip would elicit and
a tone as sound track, plus a few still pictures. They are made once, on first use, into
``<user data dir>/demo-stimuli/v1`` (a few MB). docs/protocols.md says how to use your own clips.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

VERSION = "v1"
FPS = 30
SIZE = (640, 360)
CLIP_S = 8.0
# name -> (background BGR, tone Hz, caption)
CLIPS = {
    "amusement": ((40, 140, 200), 523.25, "a comedy scene"),
    "disgust": ((40, 110, 60), 311.13, "a disgusting scene"),
    "sadness": ((120, 60, 40), 220.00, "a sad scene"),
    "fear": ((40, 30, 30), 185.00, "a frightening scene"),
    "surprise": ((160, 60, 150), 659.25, "a surprising scene"),
    "neutral": ((110, 110, 110), 440.00, "a neutral scene (landscape)"),
}
IMAGES = {
    "room-plan.png": "Room plan: the envelope is in the top drawer of the desk in room B",
    "office-room.png": "Office room B: desk, drawer, chair",
}


def demo_folder(make: bool = True) -> Path:
    """The demo stimulus folder, made on first use."""
    from platformdirs import user_data_dir

    folder = Path(os.environ.get("MEXLAB_DEMO_STIMULI") or Path(user_data_dir("mexlab")) / "demo-stimuli") / VERSION
    if make and not (folder / ".complete").exists():
        make_demo_stimuli(folder)
    return folder


def make_demo_stimuli(folder: Path, clip_s: float = CLIP_S) -> Path:
    """Write every clip and picture into ``folder`` (atomically: a half-made folder is never used)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".making-", dir=folder.parent))
    try:
        for name, (bg, hz, caption) in CLIPS.items():
            write_clip(tmp / f"{name}.mp4", name, caption, bg, hz, clip_s)
        for name, caption in IMAGES.items():
            write_image(tmp / name, caption)
        (tmp / "README.txt").write_text(
            "Generated placeholder stimuli of mexlab (no real emotional content).\n"
            "Replace them with your own clips: see docs/protocols.md, 'Using your own stimuli'.\n",
            encoding="utf-8",
        )
        (tmp / ".complete").write_text(VERSION, encoding="utf-8")
        try:
            tmp.rename(folder)
        except OSError:
            if not (folder / ".complete").exists():  # not made by another process meanwhile
                shutil.rmtree(folder, ignore_errors=True)
                tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _text(img, text, y, scale, color=(255, 255, 255), thick=2):
    import cv2

    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.putText(img, text, ((img.shape[1] - w) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def write_clip(
    path: Path,
    name: str,
    caption: str,
    bg: tuple[int, int, int],
    hz: float,
    seconds: float,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
) -> None:
    """An H.264 + AAC clip: a moving disc, captions, a frame counter, and a tone beeping once a second."""
    import av
    import cv2

    w, h = size
    n = int(round(seconds * fps))
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "28"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = c.add_stream("aac", rate=48000, layout="stereo")
        for i in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = bg
            t = i / fps
            cx = int(w / 2 + w / 3 * np.sin(2 * np.pi * t / 4))
            cv2.circle(img, (cx, h // 2 + 40), 36, (235, 235, 235), -1, cv2.LINE_AA)
            _text(img, f"DEMO CLIP: {name.upper()}", 60, 1.1)
            _text(img, f"stands for {caption}", 100, 0.7)
            _text(img, "placeholder - use your own film (docs/protocols.md)", h - 50, 0.55, (220, 220, 220), 1)
            _text(img, f"frame {i}", h - 20, 0.55, (220, 220, 220), 1)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for pkt in vs.encode(frame):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        rate, chunk = 48000, 1024
        total = int(seconds * rate)
        for start in range(0, total, chunk):
            k = np.arange(start, min(start + chunk, total))
            t = k / rate
            env = ((t % 1.0) < 0.25).astype(np.float32)  # a 250 ms beep every second
            x = (0.3 * env * np.sin(2 * np.pi * hz * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.vstack([x, x]), format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for pkt in aus.encode(frame):
                c.mux(pkt)
        for pkt in aus.encode():
            c.mux(pkt)


def write_image(path: Path, caption: str, size: tuple[int, int] = (800, 600)) -> None:
    import cv2

    w, h = size
    img = np.full((h, w, 3), 235, np.uint8)
    cv2.rectangle(img, (60, 120), (w - 60, h - 60), (60, 60, 60), 3)
    cv2.line(img, (w // 2, 120), (w // 2, h - 60), (60, 60, 60), 3)
    cv2.rectangle(img, (w // 2 + 60, 160), (w - 100, 260), (90, 140, 190), -1)  # desk
    cv2.rectangle(img, (w // 2 + 80, 200), (w // 2 + 180, 240), (40, 40, 160), 2)  # drawer
    _text(img, "A", h // 2, 2.0, (60, 60, 60), 3)
    cv2.putText(img, "B", (w // 2 + 150, h - 100), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (60, 60, 60), 3, cv2.LINE_AA)
    words, lines, cur = caption.split(), [], ""
    for word in words:
        if len(cur) + len(word) > 48:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    lines.append(cur)
    for i, line in enumerate(lines):
        cv2.putText(img, line, (40, 45 + 32 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2, cv2.LINE_AA)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cannot write {path}")
