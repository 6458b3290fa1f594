"""A small session whose rgb.mkv shows a rendered face (the rig's identity renderer, 320×240) with
one micro-expression (AU12, frames 38-52) and its analysis/spotting.json: enough for the real face
model and the recognition features, in a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acquisition.session_read import names
from tests.helpers_session import make_session

MICRO = {"onset": 38, "apex": 45, "offset": 52, "type": "micro", "score": 0.9, "aus": ["AU12"]}


def make_face_session(folder: Path, n_frames: int = 70, size=(320, 240)) -> Path:
    import av

    from acquisition.sim.identities import make_identity

    folder = make_session(Path(folder), n_frames=n_frames, spotting=[dict(MICRO)])
    face = make_identity("pexels_woman/2").renderer(*size)
    pose = face.make_pose()
    with av.open(str(folder / names.RGB_NAME), "w", format="matroska") as c:
        st = c.add_stream("ffv1", rate=30)
        st.width, st.height, st.pix_fmt = size[0], size[1], "bgr0"
        for i in range(n_frames):
            on, ap, off = MICRO["onset"], MICRO["apex"], MICRO["offset"]
            amp = 0.0 if not on <= i <= off else (i - on) / (ap - on) if i <= ap else (off - i) / (off - ap)
            img, _ = face.render_with({"AU12": 2.0 * amp, "AU6": 1.0 * amp} if amp > 0 else {}, pose)
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return folder
