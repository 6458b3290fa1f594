"""Measure the landmarks of the varied rig's source photographs (acquisition/sim/identity_data.py).

Runs the MediaPipe Face Landmarker (the shipped model, full resolution) once on each photograph and
prints the named points and eyelid margins that ``acquisition.sim.face`` uses, as Python literals.
The frames were chosen by eye among the frames with the least expression (blendshapes) and a
frontal pose: WolfgangLanger_Pexels.mp4 frame 250 (frame 226 scored lower but has a hand on the
mouth), single_face.mp4 frame 17. ``obama`` and ``biden`` (fifth round) are the shipped crops
``acquisition/sim/faces/*.jpg``, measured the same way.

    .venv/bin/python bench/measure_identity_landmarks.py [PERSON ...]
"""

from __future__ import annotations

import numpy as np

from acquisition.sim.identities import _photo
from analysis.face.landmarker import FaceTracker

IDX = dict(
    brow_in_L=107,
    brow_in_R=336,
    brow_mi_L=66,
    brow_mi_R=296,
    brow_mid_L=105,
    brow_mid_R=334,
    brow_out_L=70,
    brow_out_R=300,
    glabella=9,
    eye_lo_L=145,
    eye_lo_R=374,
    eye_out_L=33,
    eye_out_R=263,
    cheek_L=50,
    cheek_R=280,
    nose_side_L=198,
    nose_side_R=420,
    ala_L=129,
    ala_R=358,
    nose_tip=1,
    lip_up=0,
    lip_up_L=37,
    lip_up_R=267,
    lip_up_in=13,
    lip_lo_in=14,
    lip_lo=17,
    lip_lo_L=84,
    lip_lo_R=314,
    mouth_L=61,
    mouth_R=291,
    mentalis=200,
    chin=152,
    jaw_L=172,
    jaw_R=397,
    eye_in_L=133,
    eye_in_R=362,
    oval_L=234,
    oval_T=10,
    oval_R=454,
)
LIDS = {
    "L": ([33, 246, 161, 160, 159, 158, 157, 173, 133], [33, 7, 163, 144, 145, 153, 154, 155, 133]),
    "R": ([362, 398, 384, 385, 386, 387, 388, 466, 263], [362, 382, 381, 380, 374, 373, 390, 249, 263]),
}


def main(names: list[str] | None = None) -> None:
    for name in names or ("grace_hopper", "pexels_woman", "pyfeat_man", "obama", "biden"):
        img = _photo(name)
        with FaceTracker(max_side=None) as t:
            ff = t.process(img, 0.0)
        lm = ff.landmarks[:, :2]

        def r(i):
            return (round(float(lm[i, 0]), 1), round(float(lm[i, 1]), 1))

        print(f"# {name}: {img.shape[1]}x{img.shape[0]}, pose {np.round(ff.pose[:3], 1).tolist()}")
        print("LM =", {k: r(v) for k, v in IDX.items()})
        print("LIDS =", {s: ([r(i) for i in up], [r(i) for i in lo]) for s, (up, lo) in LIDS.items()})


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
