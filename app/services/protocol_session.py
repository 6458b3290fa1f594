"""What a protocol run adds to its session, and the one protocol-run orchestration (ProtocolSession),
shared by ``mexlab run-protocol`` and the Record workspace."""

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
        "name": proto.name,
        "file": str(proto.path),
        "group": plan.group,
        "quick": plan.quick,
        "simulated_responses": simulated,
        "state": run.state,
        "reason": run.engine.abort_reason,
        "markers": run.engine.pushed,
        "stimulus_frames_dropped": sum(v["dropped"] for v in run.videos),
    }
    if run.state == "finished":
        return "protocol finished"
    at = dict(run.engine.aborted_at or run.engine.step_reached())
    at["text"] = f"aborted {at['text']}" if at["step"] == 0 else f"aborted at {at['text']}"
    at["reason"] = run.engine.abort_reason
    rec.meta["aborted_at"] = at
    rec.meta["protocol_run"]["aborted_at"] = at["text"]
    rec.end_status = "aborted"
    return f"protocol aborted: {run.engine.abort_reason}"


class ProtocolSession:
    """One protocol run as a recording: the orchestration ``mexlab run-protocol`` and the Record
    workspace share (the command object both call, step by step; each front end only chooses how to
    wait, a blocking loop or Qt timers).

    1. ``ProtocolSession(name, participant, ...)``: load and validate the protocol, build the plan.
    2. ``configure(config)``: the recording's RecordConfig made a protocol run (named, no duration).
    3. the recording starts (:class:`app.services.recording.Recording`); ``first_frame_arrived(rec)`` /
       ``wait_first_frame(rec)``: the protocol begins once the first frame is in the file.
    4. ``begin(rec, screen, windowed=..., panel_host=...)``: the participant display on ``screen``,
       the ProtocolRun and the experimenter's ProtocolPanel (shown alone, or given to ``panel_host``).
    5. ``finish()`` once the run has finished or aborted: the run named in the sidecar, the display
       closed; returns the reason to stop the recording with (its status: complete or aborted).
    """

    def __init__(
        self,
        protocol: str,
        participant: str,
        *,
        quick: bool = False,
        group: str | None = None,
        simulate: bool = False,
        seed: int = 0,
    ):
        from protocols.library import find_protocol
        from protocols.loader import load_protocol
        from protocols.plan import build_plan

        if not (participant or "").strip():
            raise MexlabError("a protocol run needs the participant's pseudonym (it seeds the counterbalancing)")
        self.proto = load_protocol(find_protocol(protocol))
        self.plan = build_plan(self.proto, participant, quick=quick, group=group)
        self.simulate, self.seed = simulate, seed
        self.recorder = self.run = self.display = self.panel = None

    def configure(self, config):
        config.protocol = self.proto.name
        config.duration = None  # the protocol decides when the recording ends
        return config

    def begin(self, recorder, screen, *, windowed: bool, confirm_abort: bool = True, panel_host=None):
        from app.gui.protocol.display import ParticipantDisplay
        from app.gui.protocol.panel import ProtocolPanel
        from app.gui.protocol.run import ProtocolRun

        self.recorder = recorder
        self.display = ParticipantDisplay(self.proto.screen)
        self.display.show_on(screen, fullscreen=not windowed, size=(1024, 640) if windowed else None)
        self.run = ProtocolRun(
            self.plan,
            recorder.markers,
            recorder.folder,
            self.display,
            recorder=recorder,
            simulate=self.simulate,
            seed=self.seed,
        )
        self.panel = ProtocolPanel()
        self.panel.confirm_abort = confirm_abort
        self.panel.attach(self.run)
        if panel_host is not None:
            panel_host(self.panel)
        else:
            self.panel.show()
            if confirm_abort:
                self.panel.raise_()
        return self.run

    def describe(self) -> str:
        p = self.plan
        return f"protocol '{self.proto.name}' for {p.participant}" + (f" (group {p.group})" if p.group else "")

    def finish(self) -> str:
        """Name the run in the sidecar and close the participant display; the stop reason."""
        reason = record_run(self.recorder, self.run, self.proto, self.plan, simulated=self.simulate)
        if self.display is not None:
            self.display.close()
        return reason

    def close(self) -> None:
        """Close the windows this run opened (the CLI; the GUI keeps its embedded panel)."""
        for w in (self.display, self.panel):
            if w is not None:
                w.close()
                w.deleteLater()
        self.display = self.panel = None
