"""A short varied-rig clip shared by the spotting tests: its schedule and its frames, noisy."""

from __future__ import annotations

import numpy as np


def clip_schedule(n_frames: int = 240):
    """8 s at 30 fps: brow and nose micro-expressions of 2-2.5 px (the kinds a new face lost),
    a smile, and two blinks away from them (the events that end within ``n_frames``)."""
    from acquisition.sim.schedule import FacialEvent, Schedule

    def me(on, n, aus, amp):
        return FacialEvent("micro", on, on + n // 2 - 1, on + n - 1, aus, amp, True)

    evs = [
        me(45, 12, ("AU4",), 2.0),
        me(100, 10, ("AU1",), 2.0),
        me(150, 12, ("AU9",), 2.5),
        me(195, 10, ("AU12",), 2.0),
        FacialEvent("blink", 80, 82, 85, ("AU45",), 10.0, False),
        FacialEvent("blink", 175, 177, 180, ("AU45",), 10.0, False),
    ]
    return Schedule(fps=30.0, n_frames=n_frames, seed=0, events=[e for e in evs if e.offset < n_frames])


def render_frames(ident, schedule, *, size=(640, 360), face_width=160, noise=1.0, seed=1):
    """``(k, RGB uint8)`` for every frame of ``schedule`` on identity ``ident``, with sensor noise."""
    face = ident.renderer(size[0], size[1], face_width=face_width)
    rng = np.random.default_rng(seed)
    for k in range(schedule.n_frames):
        img, _ = face.render(k, schedule)
        yield k, np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
