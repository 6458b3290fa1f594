"""One health verdict for a session, computed once from its check (``mexlab check``).

:func:`health_of` turns the problems :func:`acquisition.check.check_path` found, each with its
severity, into ``{"verdict": "ok" | "warning" | "bad", "reasons": [str]}``. The same verdict is
shown by ``mexlab check``, ``mexlab sessions list``, the Sessions list, the Analyze header and
reports; the catalog stores it at register/rescan (columns ``health`` and ``health_reasons``).

* ``bad``: data is missing or cannot be trusted as it is — a file missing or unreadable, frames that
  do not match their index, video frames dropped (1 % or more of a video), a sidecar field missing
  or of the wrong type, a status that is not one mexlab writes.
* ``warning``: the data that is there is sound but the session is not a whole, clean recording —
  interrupted, aborted protocol, still recording, a few dropped frames (under 1 %), lost LSL
  samples, gaps in a stream.
* ``ok``: nothing to say (``mexlab check`` says OK exactly then).

``reasons`` lists the bad reasons first, then the warnings, each a short sentence such as
"158 RGB frames dropped (9 %)".
"""

from __future__ import annotations

BAD = "bad"
WARNING = "warning"
OK = "ok"
VERDICTS = (OK, WARNING, BAD)
DROP_BAD_FRACTION = 0.01  # 1 % of a video's frames dropped or more: bad

COLOURS = {OK: "#2a7", WARNING: "#d90", BAD: "#d33"}


def health_of(issues: list[tuple[str, str]]) -> dict:
    """The verdict of ``(severity, text)`` pairs (severity ``bad`` or ``warning``)."""
    bad = [t for s, t in issues if s == BAD]
    warn = [t for s, t in issues if s != BAD]
    verdict = BAD if bad else WARNING if warn else OK
    return {"verdict": verdict, "reasons": bad + warn}


def drop_issues(meta: dict) -> list[tuple[str, str]]:
    """The video frames and LSL samples the recorder itself counted as lost (``session.json``)."""
    from acquisition.xdf_read import to_int

    out = []
    counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
    described = 0
    for kind, c in counts.items():
        if not isinstance(c, dict):
            continue
        gap, overflow = to_int(c.get("dropped_counter_gap")), to_int(c.get("dropped_queue_overflow"))
        dropped = gap + overflow
        if dropped <= 0:
            continue
        described += dropped
        total = to_int(c.get("frames_written")) + dropped
        fraction = dropped / total if total else 1.0
        why = []
        if gap:
            why.append(f"{gap} missed by the camera")
        if overflow:
            why.append(f"{overflow} by a full queue")
        text = (
            f"{dropped} {str(kind).upper() if len(str(kind)) <= 3 else kind} frame"
            f"{'s' * (dropped != 1)} dropped ({_pct(fraction)}; {', '.join(why)})"
        )
        out.append((BAD if fraction >= DROP_BAD_FRACTION else WARNING, text))
    dropped_frames = to_int(meta.get("dropped_frames"))
    if dropped_frames > described:  # counted in total but not per video (older sidecars)
        out.append((BAD, f"{dropped_frames - described} video frame(s) dropped during the recording"))
    dropped_samples = to_int(meta.get("dropped_samples"))
    if dropped_samples > 0:
        out.append((WARNING, f"{dropped_samples} LSL sample(s) lost during the recording"))
    return out


def _pct(fraction: float) -> str:
    p = fraction * 100
    return f"{p:.0f} %" if p >= 1 else f"{p:.1f} %" if p >= 0.1 else "< 0.1 %"


def format_health(health: dict | None, limit: int | None = None) -> str:
    """``ok``, or ``bad: reason; reason`` (at most ``limit`` reasons, then how many more)."""
    if not health:
        return "not checked"
    verdict = health.get("verdict") or "not checked"
    reasons = list(health.get("reasons") or [])
    if not reasons:
        return verdict
    shown = reasons if limit is None else reasons[:limit]
    more = len(reasons) - len(shown)
    return f"{verdict}: " + "; ".join(shown) + (f" (+{more} more)" if more else "")
