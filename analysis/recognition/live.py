"""Live recognition: the class of a flagged micro-expression from its onset and apex frames.

Used by the recording's live spotting (``app/services/live_spotting.py``): after the spotter flags an
interval, the onset and apex frames (kept by :class:`FrameRing`, cut around the face) go through
the same features as training (:func:`analysis.recognition.features.rgb_views`: landmarks on the
onset frame, alignment, onset → apex flow) and the model. The live spotter's own landmarks of the
onset frame (or of a frame at most 3 away: the face model runs every few frames) are used when it
has them, so the face model does not run a second time. Only RGB views can be computed live (the
recording's live path sees colour frames only): a model with a ``depth`` view is refused with a
message. Per-sample cost: flow + the model, plus a MediaPipe pass when no landmarks are handed over
(docs/benchmarks.md).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass
class Recognised:
    label: str
    confidence: float
    probabilities: dict
    seconds: float  # wall time of the classification

    def as_dict(self) -> dict:
        return {
            "class": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "seconds": round(self.seconds, 4),
        }


class FrameRing:
    """The last ``n`` frames, each cut to a window around the face (``margin`` × the face box),
    keyed by frame number. Memory: n small crops instead of n full frames."""

    def __init__(self, n: int = 75, margin: float = 1.8):
        self.n, self.margin = int(n), float(margin)
        self._frames: OrderedDict[int, tuple[np.ndarray, int, int]] = OrderedDict()
        self._landmarks: OrderedDict[int, np.ndarray] = OrderedDict()  # frame number -> (478, 2) frame px

    def add_landmarks(self, index: int, landmarks: np.ndarray) -> None:
        """The face model's landmarks of frame ``index`` (frame pixels), as the live spotter found
        them (every few frames): :meth:`pair` hands the nearest to the onset over, so that
        recognition need not run the face model again."""
        self._landmarks[int(index)] = np.asarray(landmarks, np.float32)[:, :2]
        while len(self._landmarks) > self.n:
            self._landmarks.popitem(last=False)

    def landmarks_near(self, index: int, max_gap: int = 3) -> np.ndarray | None:
        """The landmarks of the frame nearest ``index`` (at most ``max_gap`` frames away; frame px)."""
        best = min(self._landmarks, key=lambda k: abs(k - index), default=None)
        if best is None or abs(best - index) > max_gap:
            return None
        return self._landmarks[best]

    def push(self, index: int, image: np.ndarray, box: Sequence[float] | np.ndarray | None) -> None:
        h, w = image.shape[:2]
        if box is None:
            x0, y0, x1, y1 = 0, 0, w, h
        else:
            bx0, by0, bx1, by1 = box
            cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
            half = 0.5 * self.margin * max(bx1 - bx0, by1 - by0)
            x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
            x1, y1 = min(w, int(cx + half) + 1), min(h, int(cy + half) + 1)
        self._frames[int(index)] = (np.ascontiguousarray(image[y0:y1, x0:x1]), x0, y0)
        while len(self._frames) > self.n:
            self._frames.popitem(last=False)

    def pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Frames ``a`` and ``b`` cut to the same window (the intersection of theirs), or None
        when either has left the ring (or was never pushed)."""
        got = self.pair_at(a, b)
        return None if got is None else got[:2]

    def pair_at(self, a: int, b: int, max_gap: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """As :meth:`pair`, with the landmarks nearest frame ``a`` (:meth:`landmarks_near`) moved
        into the window's pixels (None when there are none that near)."""
        if a not in self._frames or b not in self._frames:
            return None
        (ia, xa, ya), (ib, xb, yb) = self._frames[a], self._frames[b]
        x0, y0 = max(xa, xb), max(ya, yb)
        x1 = min(xa + ia.shape[1], xb + ib.shape[1])
        y1 = min(ya + ia.shape[0], yb + ib.shape[0])
        if x1 - x0 < 32 or y1 - y0 < 32:
            return None
        lm = self.landmarks_near(a, max_gap)
        if lm is not None:
            lm = lm - np.array([x0, y0], np.float32)
        return (ia[y0 - ya : y1 - ya, x0 - xa : x1 - xa], ib[y0 - yb : y1 - yb, x0 - xb : x1 - xb], lm)

    def __len__(self) -> int:
        return len(self._frames)


class LiveRecognizer:
    """A recognition model and a face tracker, ready to classify onset/apex pairs."""

    def __init__(self, model_path: str | Path | None = None):
        from analysis.face.landmarker import FaceTracker
        from analysis.recognition import modelfile

        self.model_path = Path(model_path) if model_path else modelfile.default_model()
        self.model, self.meta = modelfile.load(self.model_path)
        self.views = tuple(self.meta["views"])
        if "depth" in self.views:
            raise InputError(
                f"{self.model_path.name}: a model with a depth view (views "
                f"{','.join(self.views)}) cannot classify live (colour frames only); "
                f"choose an RGB model (rgb or rgb,diff) as the default"
            )
        self.classes = list(self.meta["classes"])
        self._tracker = FaceTracker(max_side=None)
        self._ts = 0.0

    def close(self) -> None:
        self._tracker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def classify(self, onset: np.ndarray, apex: np.ndarray, landmarks: np.ndarray | None = None) -> Recognised | None:
        """The class of the motion onset → apex (RGB uint8 frames of the same window); None when
        no face is found on the onset frame. ``landmarks``: the face's landmarks on (or within a
        few frames of) the onset frame, in the window's pixels, as the live spotter found them;
        without them the face model runs on the onset frame."""
        import time

        from analysis.recognition import features as F
        from analysis.recognition.task import FeatureSet, predict_proba
        from analysis.spotting import regions as R

        t0 = time.perf_counter()
        if landmarks is None:
            self._ts += 1000.0
            face = self._tracker.process(onset, self._ts)
            if face is None:
                return None
            landmarks = face.landmarks
        h, w = onset.shape[:2]
        el, er = R.eye_centres(landmarks)
        if not all(0 <= p[0] < w and 0 <= p[1] < h for p in (el, er)):
            return None  # the eyes outside the window: not this face
        m = R.align_matrix(landmarks, F.CROP)
        lm_crop = R.to_crop(m, landmarks)
        mask = R.face_mask(lm_crop, F.CROP)
        v = F.rgb_views(onset, apex, m, mask, lm_crop if "roi" in self.views else None)
        fs = FeatureSet(
            {k: v[k][None].astype(np.float32) for k in self.views},
            np.zeros(1, np.int64),
            [""],
            self.classes,
            self.views,
        )
        p = predict_proba(self.model, fs)[0]
        k = int(p.argmax())
        return Recognised(
            self.classes[k], float(p[k]), {c: float(x) for c, x in zip(self.classes, p)}, time.perf_counter() - t0
        )
