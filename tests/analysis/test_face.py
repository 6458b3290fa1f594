"""Face tracking (MediaPipe Face Landmarker, the shipped model), AU proxies, OpenFace import, depth
features and the feature cache — on the real videos and files of ../shared."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from acquisition.errors import MexlabError

pytestmark = [pytest.mark.face_model, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
VIDEO = SHARED / "data" / "video"
OPENFACE = SHARED / "data" / "openface" / "OpenFace_Test_legacy_layout.csv"
needs_video = pytest.mark.skipif(
    not (VIDEO / "single_face.mp4").is_file(), reason="../shared/data/video (real face videos) is absent"
)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The shared videos, copied (the feature cache is written next to a video)."""
    if not VIDEO.is_dir():
        pytest.skip("../shared/data/video (real face videos) is absent")
    d = tmp_path_factory.mktemp("videos")
    for f in VIDEO.iterdir():
        if f.is_file():  # the videos only (a user's run may have left a cache folder beside them)
            shutil.copyfile(f, d / f.name)
    return d


def test_model_ships_with_its_checksum_and_notice():
    from analysis.face.landmarker import MODEL_PATH, MODEL_SHA256, load_model

    data = load_model()
    assert hashlib.sha256(data).hexdigest() == MODEL_SHA256
    side = (MODEL_PATH.parent / "face_landmarker.task.sha256").read_text().split()[0]
    assert side == MODEL_SHA256
    notice = (MODEL_PATH.parent / "NOTICE").read_text()
    assert "Apache" in notice and "MediaPipe" in notice


def test_a_damaged_model_is_refused(tmp_path):
    from analysis.face.landmarker import MODEL_PATH, FaceTracker, load_model

    bad = tmp_path / "face_landmarker.task"
    data = bytearray(MODEL_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(MexlabError) as e:
        load_model(bad)
    assert str(bad) in str(e.value) and "sha256" in str(e.value)
    with pytest.raises(MexlabError):
        FaceTracker(model_path=bad)
    with pytest.raises(MexlabError) as e:
        load_model(tmp_path / "missing.task")
    assert "missing" in str(e.value)


@needs_video
def test_tracker_on_a_real_face():
    from analysis.face.landmarker import BLENDSHAPE_NAMES, FaceTracker
    from analysis.face.video import iter_frames

    n = 0
    with FaceTracker() as tr:
        for fr in iter_frames(VIDEO / "single_face.mp4", want_rgb=True, stop=24):
            f = tr.process(fr.rgb, fr.t * 1000)
            assert f is not None, f"no face in frame {fr.index}"
            h, w = fr.rgb.shape[:2]
            assert f.landmarks.shape == (478, 3)
            assert (f.landmarks[:, 0] > 0).all() and (f.landmarks[:, 0] < w).all()
            assert (f.landmarks[:, 1] > 0).all() and (f.landmarks[:, 1] < h).all()
            assert f.blendshapes.shape == (len(BLENDSHAPE_NAMES),) == (52,)
            assert (f.blendshapes >= 0).all() and (f.blendshapes <= 1).all()
            assert np.isfinite(f.pose).all() and abs(f.pose[0]) < 30 and f.pose[5] < 0
            assert 0.5 < f.confidence <= 1.0
            n += 1
    assert n == 24


@needs_video
def test_pose_signs_on_real_frames():
    """roll > 0 is a counter-clockwise tilt in the image; yaw > 0 turns the nose to image right."""
    from analysis.face.landmarker import FaceTracker
    from analysis.face.video import iter_frames

    img = next(iter_frames(VIDEO / "single_face.mp4", want_rgb=True)).rgb
    h, w = img.shape[:2]
    rolls, yaws = {}, {}
    for ang in (-12, 12):
        rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0), (w, h))
        with FaceTracker() as tr:
            rolls[ang] = tr.process(rot, 0).pose[2]
    assert 18 < rolls[12] - rolls[-12] < 30
    # yaw: a real turning head; the nose tip leaves the middle of the face towards where it turns
    nose_dx = []
    with FaceTracker() as tr:
        for fr in iter_frames(VIDEO / "WolfgangLanger_Pexels.mp4", want_rgb=True, stop=240):
            f = tr.process(fr.rgb, fr.t * 1000)
            lm = f.landmarks
            nose_dx.append((lm[1, 0] - (lm[234, 0] + lm[454, 0]) / 2) / (lm[454, 0] - lm[234, 0]))
            yaws[fr.index] = f.pose[0]
    y = np.array(list(yaws.values()))
    assert y.max() - y.min() > 5  # the head does turn in this clip
    assert np.corrcoef(y, nose_dx)[0, 1] > 0.8


@needs_video
def test_features_face_presence_and_cache(videos):
    from analysis.features_cache import fingerprint
    from analysis.spotting.features import extract_features

    v = videos / "face_noface.mov"  # HEVC; the face leaves the frame
    f1 = extract_features(v)
    assert not f1.from_cache and f1.n_frames == 169
    share = f1.frames_with_face / f1.n_frames
    assert 0.2 < share < 0.8
    present = f1.present
    assert present[:20].all() and not present[-20:].any()
    assert np.isfinite(f1.pose[present]).all() and np.isnan(f1.pose[~present]).all()
    assert (f1.confidence[~present] == 0).all() and (f1.confidence[present] > 0.3).all()
    f2 = extract_features(v)
    assert f2.from_cache
    assert f2.timings["cache_read_s"] < 0.25 * f1.timings["total_s"]
    for k in ("present", "flow", "pose", "blendshapes", "kf_landmarks"):
        np.testing.assert_array_equal(np.asarray(f1.arrays[k]), np.asarray(f2.arrays[k]))
    # the landmarks (half the features) are never read into memory: extraction spills them to a
    # temporary file, the cache maps them; a landmark asked for is the face model's
    assert isinstance(f1.kf_landmarks, np.memmap) and isinstance(f2.kf_landmarks, np.memmap)
    assert len(f1.kf_index) == len(f1.kf_landmarks) > 10
    lm = f2.landmarks_at(int(f2.kf_index[3]))
    assert lm.shape == (478, 2) and np.isfinite(lm).all() and lm[:, 0].std() > 10
    # the key is the content: a copy under another name hits the same fingerprint, an edit does not
    other = videos / "renamed_copy.mov"
    shutil.copyfile(v, other)
    assert fingerprint(other) == fingerprint(v)
    data = bytearray(other.read_bytes())
    data[100] ^= 0x01
    other.write_bytes(bytes(data))
    assert fingerprint(other) != fingerprint(v)


def test_au_proxy_table():
    from analysis.face.aus import AU_NAMES, AU_PROXIES, au_proxies, au_proxy_dict, normalize_au
    from analysis.face.landmarker import BLENDSHAPE_INDEX

    expected = {
        "AU1": "browInnerUp",
        "AU2": "browOuterUp",
        "AU4": "browDown",
        "AU6": "cheekSquint",
        "AU7": "eyeSquint",
        "AU9": "noseSneer",
        "AU10": "mouthUpperUp",
        "AU12": "mouthSmile",
        "AU14": "mouthDimple",
        "AU15": "mouthFrown",
        "AU18": "mouthPucker",
        "AU20": "mouthStretch",
        "AU24": "mouthPress",
        "AU26": "jawOpen",
        "AU45": "eyeBlink",
    }
    for au, stem in expected.items():
        assert all(b.startswith(stem) for b in AU_PROXIES[au]), au
    bs = np.zeros(52, np.float32)
    bs[BLENDSHAPE_INDEX["mouthSmileLeft"]] = 1.0  # one side only: left/right averaged
    bs[BLENDSHAPE_INDEX["jawOpen"]] = 0.4
    d = au_proxy_dict(bs)
    assert d["AU12"] == pytest.approx(0.5) and d["AU26"] == pytest.approx(0.4)
    assert sum(v for k, v in d.items() if k not in ("AU12", "AU26")) == 0
    assert au_proxies(np.stack([bs, bs])).shape == (2, len(AU_NAMES))
    assert normalize_au("AU01") == "AU1" == normalize_au("1")
    with pytest.raises(MexlabError):
        normalize_au("smile")


@pytest.mark.skipif(not OPENFACE.is_file(), reason="../shared OpenFace CSV is absent")
def test_openface_legacy_and_2x_layouts(tmp_path):
    from analysis.face.aus import read_openface_csv

    legacy = read_openface_csv(OPENFACE)
    assert legacy.layout == "legacy" and len(legacy.frame) == 100
    assert legacy.frame[0] == 0 and (np.diff(legacy.frame) == 1).all()  # 1-based → 0-based
    assert len(legacy.intensity) == 17 and len(legacy.presence) == 18
    assert "AU1" in legacy.intensity and "AU45" in legacy.intensity and "AU28" in legacy.presence
    assert 0 <= np.nanmin(legacy.intensity["AU12"]) and np.nanmax(legacy.intensity["AU12"]) <= 5
    series = legacy.intensity_at("AU12", 120)
    assert np.isnan(series[100:]).all() and np.isfinite(series[:100]).all()
    # the 2.x layout: face_id after frame, gaze angles, eye landmarks — same AU values
    lines = OPENFACE.read_text().splitlines()
    hdr = [h.strip() for h in lines[0].split(",")]
    i = hdr.index("pose_Tx")
    new_hdr = ["frame", "face_id"] + hdr[1:i] + ["gaze_angle_x", "gaze_angle_y", "eye_lmk_x_0"] + hdr[i:]
    rows = []
    for ln in lines[1:]:
        v = ln.split(",")
        rows.append(",".join([v[0], "0"] + v[1:i] + ["0.1", "0.2", "300"] + v[i:]))
    p2 = tmp_path / "openface2.csv"
    p2.write_text(", ".join(new_hdr) + "\n" + "\n".join(rows) + "\n")
    two = read_openface_csv(p2)
    assert two.layout == "2.x"
    np.testing.assert_array_equal(two.intensity["AU12"], legacy.intensity["AU12"])
    with pytest.raises(MexlabError) as e:
        two.intensity_at("AU16", 10)
    assert "no intensity column for AU16" in str(e.value)


def test_openface_errors(tmp_path):
    from analysis.face.aus import read_openface_csv

    with pytest.raises(MexlabError) as e:
        read_openface_csv(tmp_path / "none.csv")
    assert "none.csv" in str(e.value)
    p = tmp_path / "noau.csv"
    p.write_text("frame, timestamp\n1, 0\n")
    with pytest.raises(MexlabError) as e:
        read_openface_csv(p)
    assert "no AU columns" in str(e.value)
    p.write_text("frame, AU12_r\n1, 0.5\n2, abc\n")
    with pytest.raises(MexlabError) as e:
        read_openface_csv(p)
    assert "line 3" in str(e.value) and "'abc'" in str(e.value)


def test_depth_face_distance_and_head_speed():
    """Face depth of the simulated participant's depth frames (head front ~620 mm)."""
    from acquisition.sim import depth as depth_mod
    from analysis.face.depth import DepthMapper, head_speed_3d

    r = depth_mod.DepthRenderer(848, 480)
    from acquisition.sim.face import FaceRenderer

    face = FaceRenderer(848, 480)
    intr = {"fx": 617.0, "fy": 617.0, "ppx": 424.0, "ppy": 240.0}
    mapper = DepthMapper(0.001, intr, intr, (848, 480), (848, 480))
    pos = []
    for k in range(12):
        pose = face.make_pose(tx=3.0 * k)  # the head moves 3 px per frame
        raw = r.render(pose)
        f = mapper.face(raw, pose.face_box)
        assert 590 < f[0] < 700, f
        pos.append(f[1:4])
    pos = np.array(pos)
    assert pos[-1, 0] - pos[0, 0] > 20  # moved to image right (X grows)
    speed = head_speed_3d(pos, 30.0)
    # 3 px/frame at ~0.62 m with fx 617 ≈ 3 mm/frame ≈ 90 mm/s
    assert 50 < np.median(speed[3:-3]) < 130
    assert np.isnan(mapper.face(np.zeros((480, 848), np.uint16), pose.face_box)).all()
