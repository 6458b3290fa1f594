"""What a protocol run adds to its session, shared by ``mexlab run-protocol`` and the Record workspace."""

from __future__ import annotations

import time

from acquisition.errors import MexlabError


def first_frame_arrived(rec) -> bool:
    return rec.camera is None or any(v["frames_written"] > 0 for v in rec.snapshot()["videos"].values())


def wait_first_frame(rec, timeout: float = 15.0) -> None:
    """Markers must fall inside the video: start the protocol once the first frame is in the file."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if first_frame_arrived(rec):
            return
        reason = rec.should_stop()
        if reason:
            raise MexlabError(f"the recording stopped before the protocol began: {reason}")
        time.sleep(0.02)
    raise MexlabError(f"no video frame was recorded within {timeout:g} s of the start; the protocol did not begin")


def record_run(rec, run, proto, plan, simulated: bool) -> str:
    """Name the run's files and outcome in the sidecar; returns the stop reason."""
    from protocols.runlog import RunLog

    rec.meta["files"].update(RunLog.files())
    rec.meta["protocol_run"] = {
        "name": proto.name, "file": str(proto.path), "group": plan.group, "quick": plan.quick,
        "simulated_responses": simulated, "state": run.state, "reason": run.engine.abort_reason,
        "markers": run.engine.pushed, "stimulus_frames_dropped": sum(v["dropped"] for v in run.videos)}
    return "protocol finished" if run.state == "finished" else f"protocol aborted: {run.engine.abort_reason}"
