"""What a recording records from: the camera source and the LSL inputs, chosen from a RecordConfig."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import MexlabError
from acquisition.lsl_streams import StreamRequest
from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, Mode

if TYPE_CHECKING:
    from acquisition.clock import WallToLsl
    from acquisition.realsense.camera import RealSenseCamera
    from acquisition.sim.rig import SimulatedRig

SOURCES = ("simulate", "camera-file", "live", "none")


@dataclass
class RecordConfig:
    out: Path
    source: str = "live"  # simulate | camera-file | live | none (LSL only)
    camera_file: Path | None = None
    no_camera: bool = False
    lsl: list[StreamRequest] = field(default_factory=list)
    duration: float | None = None
    participant: str | None = None
    protocol: str | None = None
    rgb: Mode = DEFAULT_RGB
    depth: Mode = DEFAULT_DEPTH
    rgb_given: bool = False
    depth_given: bool = False
    db: str | None = None
    register: bool = True
    serial: str | None = None
    lsl_timeout: float = 5.0
    seed: int = 0
    # refuse to start with less free disk than this (MEXLAB_MIN_FREE_MB overrides)
    min_free_mb: float = field(default_factory=lambda: float(os.environ.get("MEXLAB_MIN_FREE_MB", "200")))
    drain_s: float = 1.5  # LabRecorder pulls every ~0.5 s and drops what it has not pulled at stop
    # encode each video in a process of its own (acquisition/video_process.py): the GUI's recordings,
    # where the GUI thread, live spotting and the rig's renderer compete with the encoders for the GIL
    encoder_process: bool = False
    # the colour video's codec (acquisition/video_writer.py COLOUR_CODECS); None: the default
    colour_codec: str | None = None

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise MexlabError(f"unknown source {self.source!r}; one of {', '.join(SOURCES)}")
        if self.colour_codec is not None:
            from acquisition.video_writer import COLOUR_CODECS, colour_codec_name

            try:
                colour_codec_name(self.colour_codec)
            except ValueError:
                raise MexlabError(f"--colour-codec {self.colour_codec!r}: one of {', '.join(COLOUR_CODECS)}") from None
        if self.duration is not None:
            if self.duration != self.duration or self.duration <= 0:  # NaN or not positive
                raise MexlabError(f"--duration {self.duration:g}: must be a positive number of seconds")
        if self.source == "camera-file" and self.camera_file is None:
            raise MexlabError("--camera-file needs a file")
        if self.participant is not None:
            p = self.participant.strip()
            if not p or any(c in p for c in "/\\\n\t"):
                raise MexlabError(f"--participant {self.participant!r}: use a pseudonym of letters, digits, - or _")
        if self.no_camera and self.source in ("camera-file",):
            raise MexlabError("--no-camera and --camera-file contradict each other")
        if self.source in ("none",) and not self.lsl:
            raise MexlabError("nothing to record: --no-camera without --lsl streams (or --simulate)")

    @property
    def wants_camera(self) -> bool:
        return not self.no_camera and self.source != "none"


def open_camera(config: RecordConfig, clock: WallToLsl, rig: SimulatedRig | None = None) -> RealSenseCamera | None:
    """The RealSenseCamera for the config (hardware, file or the rig's software device), or None."""
    from acquisition.realsense.camera import RealSenseCamera, open_camera_file
    from acquisition.realsense.devices import open_live

    if not config.wants_camera:
        return None
    if config.source == "simulate":
        return RealSenseCamera(rig.camera.device, "software", config.rgb, config.depth, clock)
    if config.source == "camera-file":
        dev = open_camera_file(Path(config.camera_file))
        rgb = config.rgb if config.rgb_given else None
        depth = config.depth if config.depth_given else None
        return RealSenseCamera(dev, "playback", rgb, depth, clock)
    return RealSenseCamera(open_live(config.serial), "live", config.rgb, config.depth, clock)


def check_modes(config: RecordConfig) -> None:
    for name, mode in (("--rgb", config.rgb), ("--depth", config.depth)):
        if not isinstance(mode, Mode):
            raise MexlabError(f"{name}: not a camera mode")
