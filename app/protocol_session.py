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
    """Name the run's files and outcome in the sidecar; returns the stop reason.

    An aborted run makes the session ``aborted`` (not ``complete``) with the step it reached in
    ``aborted_at``: the recorder's clean stop ends with ``rec.end_status``, unless the recording
    itself failed (then it is ``interrupted``). Used by ``mexlab run-protocol`` and the Record
    workspace alike.
    """
    from protocols.runlog import RunLog

    rec.meta["files"].update(RunLog.files())
    rec.meta["protocol_run"] = {
        "name": proto.name, "file": str(proto.path), "group": plan.group, "quick": plan.quick,
        "simulated_responses": simulated, "state": run.state, "reason": run.engine.abort_reason,
        "markers": run.engine.pushed, "stimulus_frames_dropped": sum(v["dropped"] for v in run.videos)}
    if run.state == "finished":
        return "protocol finished"
    at = dict(run.engine.aborted_at or run.engine.step_reached())
    at["text"] = f"aborted {at['text']}" if at["step"] == 0 else f"aborted at {at['text']}"
    at["reason"] = run.engine.abort_reason
    rec.meta["aborted_at"] = at
    rec.meta["protocol_run"]["aborted_at"] = at["text"]
    rec.end_status = "aborted"
    return f"protocol aborted: {run.engine.abort_reason}"
