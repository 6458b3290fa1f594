"""A recognition data set made only from mexlab's simulated rig, written as a CAS(ME)^3 Part A release.

Each subject is one identity of the varied rig (:mod:`acquisition.sim.identities`: different
photographs and identity warps, glasses, lighting), with a schedule of the varied rig
(:func:`acquisition.sim.varied.make_varied_schedule`: micro- and macro-expressions, blinks, head
drift and turns, speech), rendered at 640×480 and cut to a fixed square around the face (1.6 ×
the face box, the same for colour and depth, like a release's cropped frames). For every micro-expression the frames onset … offset are rendered
(colour with the varied rig's sensor noise, σ = 1 grey level, saved as JPEG quality 95; depth from
the rig's head model, :class:`acquisition.sim.depth.DepthRenderer`, 16-bit PNG in mm, its surface
moved by the same AU coefficients as the colour face at that frame) and listed in
``part_A/annotation/CAS(ME)3_part_A_v2.xlsx``; the data set is then read through the ``casme3``
reader like any release.

The rig codes AUs, not emotions: the emotion is derived from the AUs
(:data:`analysis.datasets.classes.RIG_AU_EMOTION`: AU12, AU6+12, AU7+12 → positive; AU1+2 →
surprise; AU4, AU4+7, AU9, AU14, AU15, AU15+17 → negative; every other AU set → others, which the
3-class scheme leaves out but MvCL pretraining uses unlabelled).

Limits, said plainly: the depth bumps of the AUs (1-4 mm for a micro-expression, see
:mod:`acquisition.sim.depth`) are a rough anatomical model, noise-free apart from the 1 mm
quantisation; a real sensor's noise (~1-2 mm at 60 cm) is not simulated, so depth's contribution
on this data is an upper bound for a real camera.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import OutputError
from analysis.datasets.casme3 import SHEET
from analysis.datasets.classes import rig_emotion
from analysis.datasets.export import HEADER

if TYPE_CHECKING:
    from collections.abc import Callable

FPS = 30.0


def make_rig_release(
    out: str | Path,
    *,
    split: str = "tuning",
    n_subjects: int = 12,
    per_subject: int = 30,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    start: int = 0,
    noise: float = 1.0,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    import cv2
    import openpyxl

    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.identities import identities
    from acquisition.sim.varied import make_varied_schedule

    out = Path(out)
    if out.exists():
        raise OutputError(f"{out}: already exists")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    rows, per_class = [], {}
    w, h = size
    try:
        people = identities(split, n_subjects, start=start)
        for si, ident in enumerate(people):
            subj = f"spNO.{si + 1}"
            vdir = tmp / "part_A" / "data" / "part_A" / subj / "a"
            (vdir / "color").mkdir(parents=True)
            (vdir / "depth").mkdir()
            dur = max(60.0, per_subject * 60.0 / 6.0 * 1.15)
            sched = make_varied_schedule(dur, fps=FPS, seed=seed * 1000 + si + 17 * start)
            micro = [e for e in sched.events if e.kind == "micro"][:per_subject]
            face = ident.renderer(w, h)
            depth = DepthRenderer(w, h, face=face)
            x0, y0, x1, y1 = face.neutral_face_box
            half = int(round(0.8 * max(x1 - x0, y1 - y0)))
            cx, cy = int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2))
            ys = slice(max(0, cy - half), min(h, cy + half))
            xs = slice(max(0, cx - half), min(w, cx + half))
            rng = np.random.default_rng([seed, si, 5])
            for e in micro:
                for k in range(e.onset, e.offset + 1):
                    co = face.au_coefficients(k, sched)
                    pose = face.pose_at(k, sched)
                    img, pose = face.render_with(co, pose)
                    if noise > 0:
                        img = np.clip(img.astype(np.float32) + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
                    if not cv2.imwrite(
                        str(vdir / "color" / f"{k}.jpg"),
                        cv2.cvtColor(np.ascontiguousarray(img[ys, xs]), cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95],
                    ):
                        raise OSError(f"cannot write {vdir / 'color'}")
                    cv2.imwrite(str(vdir / "depth" / f"{k}.png"), np.ascontiguousarray(depth.render(pose, co)[ys, xs]))
                aus = "+".join(a.replace("AU", "") for a in e.aus)
                emo = rig_emotion("+".join(e.aus))
                per_class[emo] = per_class.get(emo, 0) + 1
                rows.append([subj, "a", e.onset, e.apex, e.offset, aus, "", emo, "Micro-expression"])
            if progress is not None:
                progress(si + 1, len(people), ident.name)
        ann = tmp / "part_A" / "annotation"
        ann.mkdir(parents=True)
        wb = openpyxl.Workbook()
        wb.active.append(HEADER)
        for r in rows:
            wb.active.append(r)
        wb.save(ann / SHEET)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "out": str(out),
        "split": split,
        "subjects": [i.name for i in people],
        "n": len(rows),
        "per_emotion": per_class,
        "size": list(size),
        "seed": seed,
    }
