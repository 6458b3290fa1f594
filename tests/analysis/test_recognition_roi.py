"""The ``roi`` view: the onset → apex flow read per landmark region (the spotter's facial regions),
each region's weighted mean painted where it weighs most."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.face_model]


@pytest.fixture(scope="module")
def rig_face():
    from acquisition.sim.identities import make_identity
    from acquisition.sim.schedule import FacialEvent, Schedule
    from analysis.face.landmarker import FaceTracker
    from analysis.recognition import features as F
    from analysis.spotting import regions as R

    ev = FacialEvent("micro", 5, 10, 16, ("AU12",), 3.5, True)  # mouth corners up
    sched = Schedule(30.0, 20, 0, [ev])
    face = make_identity("astronaut/1").renderer(640, 480)
    on, ap = face.render(5, sched)[0], face.render(10, sched)[0]
    with FaceTracker() as tr:
        found = tr.process(on, 1000.0)
    m = R.align_matrix(found.landmarks, F.CROP)
    lm = R.to_crop(m, found.landmarks)
    return on, ap, m, lm


def test_roi_view_paints_each_region_s_weighted_mean(rig_face):
    from analysis.recognition import features as F
    from analysis.spotting import regions as R

    _, _, _, lm = rig_face
    boxes = R.region_boxes(lm, F.CROP)
    k = R.REGION_NAMES.index("mouth_l")
    u = np.zeros((F.CROP, F.CROP), np.float32)
    ys, xs, _ = boxes[k]
    u[ys, xs] = 2.0  # only the left mouth corner's box moves
    roi = F.roi_view((u, np.zeros_like(u), np.zeros_like(u)), lm)
    assert roi.shape == (3, F.GRID, F.GRID) and roi.dtype == np.float32
    assert not roi[1:].any()  # v and strain did not move
    assert roi[0].max() == pytest.approx(2.0, rel=0.05)  # the region's mean, painted over its own pixels
    hot = np.argwhere(roi[0] > 1.0)
    cx, cy = lm[list(R.REGIONS["mouth_l"]), :2].mean(axis=0) * F.GRID / F.CROP  # landmarks are (x, y)
    assert np.abs(hot.mean(axis=0) - [cy, cx]).max() < 3  # where the landmarks put the mouth corner
    for far in ("brow_in_l", "brow_out_r", "lid_up_l", "lid_lo_r"):  # regions far from the moving box: 0
        fx, fy = (lm[list(R.REGIONS[far]), :2].mean(axis=0) * F.GRID / F.CROP).astype(int)
        assert roi[0][fy, fx] == 0, far


def test_rgb_views_give_roi_with_landmarks_and_the_mouth_moves_in_an_au12(rig_face):
    from analysis.recognition import features as F
    from analysis.spotting import regions as R

    on, ap, m, lm = rig_face
    mask = R.face_mask(lm, F.CROP)
    without = F.rgb_views(on, ap, m, mask)
    v = F.rgb_views(on, ap, m, mask, lm)
    assert "roi" not in without and set(v) == {"rgb", "diff", "roi"}
    assert np.array_equal(v["rgb"], without["rgb"])  # the flow view itself is unchanged
    g = F.GRID / F.CROP
    speed = np.hypot(v["roi"][0], v["roi"][1])

    def at(name):
        cx, cy = (lm[list(R.REGIONS[name]), :2].mean(axis=0) * g).astype(int)
        return float(speed[cy, cx])

    assert at("mouth_l") > 3 * at("brow_in_l") and at("mouth_r") > 3 * at("brow_in_r")
