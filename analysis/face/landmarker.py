"""Per-frame face tracking with the MediaPipe Face Landmarker (VIDEO running mode).

For every frame it is given, :class:`FaceTracker` returns a :class:`FaceFrame`: the 478 mesh
landmarks (image pixels), the head pose (yaw, pitch, roll in degrees; translation in cm, from the
facial transformation matrix), the 52 blendshape scores and a confidence — or ``None`` when no face is
found.

The model file ships with mexlab (``analysis/models/face_landmarker.task``, Apache-2.0, Google
MediaPipe; see ``analysis/models/NOTICE``). Its sha256 is checked on every load, and the bytes that
were checked are the bytes handed to MediaPipe.

Pose conventions (checked by tests on real video): ``yaw > 0`` the face turns towards image right,
``pitch > 0`` the chin lifts, ``roll > 0`` the head tilts counter-clockwise as seen in the image;
``tx, ty, tz`` are the face origin in the camera frame in cm (MediaPipe's metric space: x right,
y up, z towards the viewer, so ``tz`` is negative).

Confidence: MediaPipe 1.2.2 does not expose its face-presence score (a face below its 0.5 presence
threshold is simply not returned). ``confidence`` is therefore a documented proxy in 0..1: the share of
the mesh inside the image times ``cos(yaw)·cos(pitch)`` (frontal, fully visible faces are tracked
most reliably).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InstallError

if TYPE_CHECKING:
    from collections.abc import Iterator

# Every open MediaPipe landmarker, held here until FaceTracker.close(). MediaPipe runs each
# landmarker's C calls on a one-thread executor of its own and closes it from __del__; when a
# landmarker is collected as part of a reference cycle, the executor's weak reference callback ends
# that thread first and the close() then waits forever on a future no thread will run (seen: a GUI
# test hung inside a matplotlib draw). Held here, a landmarker never becomes cyclic garbage, so its
# executor is alive whenever FaceTracker closes it, explicitly or from FaceTracker.__del__.
_OPEN_LANDMARKERS: set = set()

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
N_LANDMARKS = 478

#: The 52 blendshapes, in the order MediaPipe returns them (index 0 is ``_neutral``).
BLENDSHAPE_NAMES = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)
BLENDSHAPE_INDEX = {n: i for i, n in enumerate(BLENDSHAPE_NAMES)}
POSE_FIELDS = ("yaw", "pitch", "roll", "tx", "ty", "tz")

_verified: dict[tuple, bytes] = {}


def load_model(path: Path | None = None) -> bytes:
    """The model bytes, after checking their sha256 (MexlabError if missing or different)."""
    path = Path(path or MODEL_PATH)
    try:
        st = path.stat()
    except OSError:
        raise InstallError(f"{path}: the face model file is missing (reinstall mexlab)") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _verified:
        return _verified[key]
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise InstallError(
            f"{path}: the face model file is damaged or not the one mexlab ships "
            f"(sha256 {digest}, expected {MODEL_SHA256}); reinstall mexlab"
        )
    _verified.clear()
    _verified[key] = data
    return data


def pose_from_matrix(m: np.ndarray) -> np.ndarray:
    """``[yaw, pitch, roll, tx, ty, tz]`` (degrees, cm) from a 4×4 facial transformation matrix."""
    r = np.asarray(m, dtype=np.float64)[:3, :3]
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -r[2, 0]))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    t = np.asarray(m, dtype=np.float64)[:3, 3]
    return np.array([yaw, -pitch, roll, t[0], t[1], t[2]], dtype=np.float32)


@dataclass
class FaceFrame:
    landmarks: np.ndarray  # (478, 3) float32: x, y in pixels of the frame; z relative (px scale)
    pose: np.ndarray  # (6,) yaw, pitch, roll (deg), tx, ty, tz (cm)
    blendshapes: np.ndarray  # (52,) scores 0..1 in BLENDSHAPE_NAMES order
    confidence: float  # 0..1 (see the module docstring)
    matrix: np.ndarray  # (4, 4) facial transformation matrix

    @property
    def box(self) -> tuple[float, float, float, float]:
        x, y = self.landmarks[:, 0], self.landmarks[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes[BLENDSHAPE_INDEX[name]])


#: Command-line tools set this: MediaPipe's C++ start-up chatter ("Logging before InitGoogle()",
#: "Sets FaceBlendshapesGraph acceleration …", "Created TensorFlow Lite XNNPACK delegate") bypasses
#: Python and every logging switch (google-ai-edge/mediapipe#5371, #5737), so the process's stderr
#: is pointed at /dev/null while the model starts and runs its first frame. Off by default: in the
#: GUI and during a recording other threads write to stderr and must not be silenced.
QUIET_NATIVE_START = False


@contextlib.contextmanager
def quiet_native_start() -> Iterator[None]:
    """Within this block (a command-line tool's whole run), face trackers start quietly
    (:data:`QUIET_NATIVE_START`); the setting is restored afterwards."""
    global QUIET_NATIVE_START
    before, QUIET_NATIVE_START = QUIET_NATIVE_START, True
    try:
        yield
    finally:
        QUIET_NATIVE_START = before


@contextlib.contextmanager
def _quiet_native_stderr(active: bool):
    if not active:
        yield
        return
    try:
        sys.stderr.flush()
        fd = sys.stderr.fileno()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to do
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


class FaceTracker:
    """MediaPipe Face Landmarker in VIDEO mode (one face). Use as a context manager or close().

    ``max_side``: frames larger than this (longest side, px) are shrunk before the model sees them;
    landmarks are always returned in the coordinates of the frame given.
    """

    def __init__(self, *, max_side: int | None = 640, model_path: Path | None = None, min_confidence: float = 0.5):
        from mediapipe.tasks.python import BaseOptions, vision

        data = load_model(model_path)
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=data),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._quiet = QUIET_NATIVE_START  # until the first frame has run
        try:
            with _quiet_native_stderr(self._quiet):
                self._lm = vision.FaceLandmarker.create_from_options(opts)
            _OPEN_LANDMARKERS.add(self._lm)
        except Exception as exc:
            raise InstallError(f"the face model could not be started ({exc})") from None
        self.max_side = max_side
        self._last_ts = -1

    def close(self) -> None:
        lm, self._lm = self._lm, None
        if lm is not None:
            try:
                lm.close()
            finally:
                _OPEN_LANDMARKERS.discard(lm)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def process(self, rgb: np.ndarray, timestamp_ms: float) -> FaceFrame | None:
        """Track the face in one RGB frame (H×W×3 uint8). Timestamps must increase; a repeated or
        earlier timestamp is nudged forward by 1 ms (MediaPipe refuses them)."""
        import cv2
        import mediapipe as mp

        if self._lm is None:
            raise RuntimeError("FaceTracker is closed")
        h, w = rgb.shape[:2]
        img = rgb
        if self.max_side and max(h, w) > self.max_side:
            s = self.max_side / max(h, w)
            img = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        ts = int(round(timestamp_ms))
        if ts <= self._last_ts:
            ts = self._last_ts + 1
        self._last_ts = ts
        with _quiet_native_stderr(self._quiet):
            res = self._lm.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img)), ts
            )
        self._quiet = False
        if not res.face_landmarks:
            return None
        lms = np.array([(p.x * w, p.y * h, p.z * w) for p in res.face_landmarks[0]], dtype=np.float32)
        bs = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
        if res.face_blendshapes:
            for c in res.face_blendshapes[0]:
                i = BLENDSHAPE_INDEX.get(c.category_name)
                if i is not None:
                    bs[i] = c.score
        m = (
            np.asarray(res.facial_transformation_matrixes[0], dtype=np.float32)
            if res.facial_transformation_matrixes
            else np.eye(4, dtype=np.float32)
        )
        pose = pose_from_matrix(m)
        inside = np.mean((lms[:, 0] >= 0) & (lms[:, 0] < w) & (lms[:, 1] >= 0) & (lms[:, 1] < h))
        frontal = max(0.0, math.cos(math.radians(pose[0])) * math.cos(math.radians(pose[1])))
        return FaceFrame(lms, pose, bs, float(inside * frontal), m)
