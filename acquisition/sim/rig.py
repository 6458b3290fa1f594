"""The simulated participant rig: a camera (software device) plus LSL outlets, with ground truth.

Everything downstream sees it as hardware: the camera is an ``rs.software_device`` and the
physiology leaves through real LSL outlets (``mexlab-sim-EMG``, ``-ECG``, ``-EDA``) that any LSL
program on the network can find, record or plot. Only the rig knows the truth, which it writes into
the session (``ground_truth.csv``, ``ground_truth_physio.json``) for scoring every analysis.

``mexlab rig`` runs the outlets on their own (and can write a camera file), for testing other tools.
"""

from __future__ import annotations

import csv
import json
from bisect import bisect_left
from pathlib import Path
from typing import TYPE_CHECKING

import pylsl

from acquisition import session as sess
from acquisition.atomic import atomic_write
from acquisition.atomic import write_text as atomic_text
from acquisition.lsl_streams import FoundStream
from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, Mode

if TYPE_CHECKING:
    from acquisition.clock import WallToLsl


class SimulatedRig:
    def __init__(
        self,
        rgb: Mode = DEFAULT_RGB,
        depth: Mode = DEFAULT_DEPTH,
        duration_s: float | None = None,
        seed: int = 0,
        clock: WallToLsl | None = None,
        camera: bool = True,
        outlets: bool = True,
    ):
        from acquisition.clock import WallToLsl
        from acquisition.sim.camera import check_sim_modes
        from acquisition.sim.outlets import SimOutlets
        from acquisition.sim.schedule import make_schedule

        check_sim_modes(rgb, depth)  # like a D400: its own modes only, before anything starts

        self.clock = clock or WallToLsl()
        self.fps = float(rgb.fps)
        # a little longer than asked, so the schedule covers the whole recording
        horizon = None if duration_s is None else duration_s + 5.0
        self.schedule = make_schedule(horizon, fps=self.fps, seed=seed)
        self.camera = None
        if camera:
            from acquisition.sim.camera import SimulatedCamera

            self.camera = SimulatedCamera(self.schedule, rgb, depth, self.clock, seed=seed)
        self.outlets = SimOutlets(self.schedule) if outlets else None
        self.t0: float | None = None

    def found_streams(self, timeout: float = 5.0) -> list[FoundStream]:
        """The rig's outlets as the network sees them (resolved like any other stream)."""
        if self.outlets is None:
            return []
        found = []
        for info in self.outlets.infos():
            hits = pylsl.resolve_byprop("source_id", info.source_id(), minimum=1, timeout=timeout)
            if hits:
                found.append(FoundStream.from_info(hits[0]))
        return found

    def start(self, t0_lsl: float) -> None:
        """Frame 0 is captured, and physiology sample 0 taken, at ``t0_lsl``."""
        self.t0 = t0_lsl
        if self.outlets is not None:
            self.outlets.start(t0_lsl)
        if self.camera is not None:
            self.camera.start(t0_lsl)

    def stop(self) -> None:
        if self.camera is not None:
            self.camera.stop()
        if self.outlets is not None:
            self.outlets.stop()

    def write_ground_truth(self, folder: Path, camera_to_file: dict[int, int]) -> dict:
        """Write ground truth in the frame numbers of ``rgb.mkv``; returns the files written."""
        files = {}
        rows = self.schedule.ground_truth_rows()
        if self.camera is not None and camera_to_file:
            cams = sorted(camera_to_file)
            first, last = cams[0], cams[-1]

            def to_file(k: int) -> int:
                i = min(bisect_left(cams, k), len(cams) - 1)
                return camera_to_file[cams[i]]

            kept = []
            for r in rows:
                if r["onset"] < first or r["offset"] > last:
                    continue  # not wholly inside the recorded video
                kept.append(dict(r, onset=to_file(r["onset"]), apex=to_file(r["apex"]), offset=to_file(r["offset"])))
            path = Path(folder) / sess.GROUND_TRUTH_NAME
            with atomic_write(path, newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=["onset", "apex", "offset", "type", "aus", "kind"])
                w.writeheader()
                for r in kept:
                    w.writerow({k: r.get(k, "") for k in w.fieldnames})
            files["ground_truth"] = sess.GROUND_TRUTH_NAME
        elif self.camera is None and self.t0 is not None:
            # no video: frame k is the nominal instant t0_lsl + k / fps (see ground_truth_physio.json)
            elapsed = max(0.0, pylsl.local_clock() - self.t0)
            last = int(elapsed * self.fps)
            path = Path(folder) / sess.GROUND_TRUTH_NAME
            with atomic_write(path, newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=["onset", "apex", "offset", "type", "aus", "kind"])
                w.writeheader()
                for r in rows:
                    if r["offset"] <= last:
                        w.writerow({k: r.get(k, "") for k in w.fieldnames})
            files["ground_truth"] = sess.GROUND_TRUTH_NAME
        if self.outlets is not None and self.t0 is not None:
            from acquisition.sim.physio import ground_truth_physio

            gt = ground_truth_physio(self.schedule, t0_lsl=self.t0, duration_s=max(0.0, pylsl.local_clock() - self.t0))
            path = Path(folder) / sess.GROUND_TRUTH_PHYSIO_NAME
            atomic_text(path, json.dumps(gt, indent=1))
            files["ground_truth_physio"] = sess.GROUND_TRUTH_PHYSIO_NAME
        if self.camera is not None:
            files["capture_times"] = self._write_capture_times(Path(folder), camera_to_file)
        return files

    def _write_capture_times(self, folder: Path, camera_to_file: dict[int, int]) -> str:
        """The rig's true capture time of every recorded frame (for the sync benchmark)."""
        name = "sim_capture_times.csv"
        with atomic_write(folder / name, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["frame", "camera_frame", "true_capture_lsl"])
            for k, t in self.camera.capture_times:
                if k in camera_to_file:
                    w.writerow([camera_to_file[k], k, repr(t)])
        return name
