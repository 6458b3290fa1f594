"""The files a protocol run adds to its session folder (each line written and flushed at once, so a
killed or aborted run leaves them readable up to that moment):

* ``protocol_log.jsonl``: the run's plan and set-up, then every marker with its LSL time, notes and
  warnings (one JSON object per line, ``record`` says which);
* ``responses.csv``: one row per self-report and per answer window of a question;
* ``stimulus_frames.csv``: one row per video frame shown: its number and time in the file, when it was
  due and when it was flipped onto the screen (LSL seconds); frames never shown are in the log's
  ``video_summary`` lines (``dropped``).

The file names and the columns of ``responses.csv`` are spelled once, in
:mod:`acquisition.session_read.names`, which the catalog reads them with too (protocols may import
acquisition, never the reverse).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acquisition.session_read.names import (
    PROTOCOL_LOG_NAME as LOG_NAME,
)
from acquisition.session_read.names import (
    RESPONSE_COLUMNS,
    RESPONSES_NAME,
)
from acquisition.session_read.names import (
    STIMULUS_FRAMES_NAME as FRAMES_NAME,
)

__all__ = ["FRAMES_NAME", "FRAME_COLUMNS", "LOG_NAME", "RESPONSES_NAME", "RESPONSE_COLUMNS", "RunLog", "read_log"]

FRAME_COLUMNS = ["stimulus", "step_seq", "frame", "pts_s", "due_lsl", "flip_lsl", "late_ms"]


class RunLog:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._log = open(self.folder / LOG_NAME, "a", encoding="utf-8")
        self._resp_fh = open(self.folder / RESPONSES_NAME, "a", newline="", encoding="utf-8")
        self._resp = csv.DictWriter(self._resp_fh, RESPONSE_COLUMNS, extrasaction="ignore")
        self._frames_fh = None
        self._frames = None
        if self._resp_fh.tell() == 0:
            self._resp.writeheader()
            self._resp_fh.flush()
        self.closed = False

    @staticmethod
    def files() -> dict:
        """Roles and names, for ``session.json`` ``files`` (the catalog registers them with these roles)."""
        return {"protocol_log": LOG_NAME, "responses": RESPONSES_NAME, "stimulus_frames": FRAMES_NAME}

    def write(self, record: str, **data: Any) -> None:
        if self.closed:
            return
        rec = {"record": record, "wall": datetime.now(UTC).isoformat(), **data}
        self._log.write(json.dumps(rec, default=str, sort_keys=False) + "\n")
        self._log.flush()

    def marker(self, event: str, lsl: float, fields: dict) -> None:
        self.write("marker", lsl=lsl, event=event, **fields)

    def response(self, row: dict) -> None:
        if self.closed:
            return
        self._resp.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self._resp_fh.flush()

    def frame(self, stimulus: str, step_seq: int, frame: int, pts: float, due: float, flip: float) -> None:
        if self.closed:
            return
        if self._frames is None:
            self._frames_fh = open(self.folder / FRAMES_NAME, "a", newline="", encoding="utf-8")
            self._frames = csv.writer(self._frames_fh)
            if self._frames_fh.tell() == 0:
                self._frames.writerow(FRAME_COLUMNS)
        self._frames.writerow(
            [stimulus, step_seq, frame, f"{pts:.6f}", f"{due:.6f}", f"{flip:.6f}", f"{(flip - due) * 1000:.3f}"]
        )
        self._frames_fh.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fh in (self._log, self._resp_fh, self._frames_fh):
            if fh is not None:
                fh.close()


def read_log(folder: Path) -> list[dict]:
    path = Path(folder) / LOG_NAME
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
