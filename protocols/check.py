"""Whether a protocol can be run: every group's full run expanded, every stimulus decoded once.

Called by :func:`protocols.loader.load_protocol` (``check=True``) after the file has been read and
validated; it needs the planner (:mod:`protocols.plan`) and the media probe (:mod:`protocols.media`),
neither of which needs the loader.
"""

from __future__ import annotations

from protocols.model import Protocol
from protocols.plan import build_plan


def check_protocol(proto: Protocol) -> None:
    """Expand every group's full run (all trials, fixed order) and decode every stimulus once."""
    from protocols.media import probe_file

    seen = set()
    for g in proto.groups or [None]:
        plan = build_plan(proto, "P1", group=g["id"] if g else None, shuffle=False)
        for s in plan.steps:
            for key in ("file", "image"):
                f = s.params.get(key)
                if f is not None and f not in seen:
                    seen.add(f)
                    probe_file(f, s.source, video=(s.params.get("kind") == "video" and key == "file"))
