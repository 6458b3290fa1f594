"""One recording as every front end runs it: the one ``RecordConfig`` builder and the ``Recording``
command (prepare → start → stop → register), shared by ``mexlab record``, ``mexlab run-protocol`` and
the Record workspace (through :class:`app.services.record_controller.RecordController`). Qt-free.

The recorder (:class:`acquisition.recorder.Recorder`) writes a session folder and knows nothing of
the catalog; registering the session is the caller's part, done here once for every front end.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import MexlabError
from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, parse_mode
from acquisition.sources import RecordConfig


def build_config(
    *,
    out: Path,
    source: str,
    camera_file: Path | str | None = None,
    no_camera: bool = False,
    lsl=(),
    duration: float | None = None,
    participant: str | None = None,
    protocol: str | None = None,
    rgb: str | None = None,
    depth: str | None = None,
    db: str | None = None,
    register: bool = True,
    serial: str | None = None,
    lsl_timeout: float = 5.0,
    seed: int = 0,
    encoder_process: bool = False,
    colour_codec: str | None = None,
    rgb_flag: str = "--rgb",
    depth_flag: str = "--depth",
) -> RecordConfig:
    """The RecordConfig for a request, every value checked and bounded, whoever asks.

    ``source``: simulate | camera-file | live | none; ``no_camera``: the rig's LSL streams without its
    camera (with ``simulate``). ``rgb``/``depth``: a ``WxH@FPS`` text or None
    (the default mode; for a camera file: the file's own). ``lsl``: stream request texts
    (``NAME``, ``type=...``). ``*_flag``: how the caller names the mode fields in messages."""
    from acquisition.lsl_streams import StreamRequest
    from app.commands._bounds import MAX_SESSION_S, MAX_WAIT_S, seconds

    if source == "simulate":
        from acquisition.sim.schedule import MAX_SCHEDULE_S

        seconds(duration, "--duration", maximum=MAX_SCHEDULE_S, who="the simulated participant")
    seconds(duration, "--duration", maximum=MAX_SESSION_S)
    seconds(lsl_timeout, "--lsl-timeout", maximum=MAX_WAIT_S)
    if participant is not None and not participant.strip():
        raise MexlabError(
            "--participant '': give the participant's pseudonym (letters, digits, - or _), or leave the flag out"
        )
    requests = [StreamRequest.parse(s) for s in lsl]
    return RecordConfig(
        out=Path(out),
        source=source,
        camera_file=Path(camera_file) if camera_file else None,
        no_camera=no_camera or source == "none",
        lsl=requests,
        duration=duration,
        participant=participant,
        protocol=protocol,
        rgb=parse_mode(rgb, rgb_flag) if rgb else DEFAULT_RGB,
        depth=parse_mode(depth, depth_flag) if depth else DEFAULT_DEPTH,
        rgb_given=bool(rgb),
        depth_given=bool(depth),
        db=db,
        register=register,
        serial=serial,
        lsl_timeout=lsl_timeout,
        seed=seed,
        encoder_process=encoder_process,
        colour_codec=colour_codec,
    )


class Recording:
    """One recording, from the request to the catalogued session.

    ``prepare()`` reaches the catalog (when the config asks to register) before anything is created,
    then prepares the recorder (validation, camera, LSL pre-flight, the new folder). ``start(attach)``
    starts it; ``attach(recorder)`` runs between prepare and start (frame listeners see the first
    frame) and what it returns is kept as ``attached`` and stopped on failure. ``stop(reason)`` ends
    the recording and registers the session. A failed start leaves the folder marked interrupted."""

    def __init__(self, config: RecordConfig):
        from acquisition.recorder import Recorder

        self.config = config
        self.recorder = Recorder(config)
        self.catalog = None
        self.attached = None
        self.registered: dict | None = None

    @property
    def folder(self) -> Path:
        return self.recorder.folder

    @property
    def errors(self) -> list[str]:
        return self.recorder.errors

    def prepare(self) -> None:
        self.config.validate()
        if self.config.register:
            from acquisition.catalog import Catalog

            self.catalog = Catalog(self.config.db)  # raises CatalogError when unreachable: nothing created yet
        self.recorder.prepare()

    def start(self, attach=None):
        rec = self.recorder
        try:
            if attach is not None:
                self.attached = attach(rec)
            rec.start()
        except MexlabError:
            if self.attached is not None and hasattr(self.attached, "stop"):
                self.attached.stop()
            self.abandon()
            raise
        return self.attached

    def abandon(self) -> None:
        self.recorder.abandon()
        if self.recorder.stopped:  # it had started: the interrupted session is catalogued too
            self._register()

    def stop(self, reason: str = "stopped") -> dict:
        meta = self.recorder.stop(reason)
        self._register()
        return meta

    def _register(self) -> None:
        from acquisition.session import SIDECAR

        if self.catalog is None or not (self.folder / SIDECAR).exists():
            return
        try:
            self.registered = self.catalog.register_session(self.folder)
        except MexlabError as exc:
            self.recorder.errors.append(str(exc))
