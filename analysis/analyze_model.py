"""What the Analyze workspace knows, without Qt: the session open, its spotting result (with the
class `mexlab recognize` gave each interval, when ``analysis/recognition.json`` exists), the rows
of the interval table, the apex frame cropped to the face, the EMG traces on the video's frame
axis, the physiology of the session and the study over the sessions of its protocol.

The widget (:mod:`app.gui.workspaces.analyze`) renders this and runs the long calls in a worker
thread; tests drive it without a display. Every session file is read through the session-reading
layer (:mod:`acquisition.session_read`); a session cut by a crash is shown as far as it goes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InputError, MexlabError
from acquisition.session_read.names import RECOGNITION_FILE, RGB_NAME, XDF_NAME

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.spotting.pipeline import SpotResult
    from analysis.study import SessionResult, StudyResult

COLUMNS = ("type", "onset", "apex", "offset", "score", "AUs / reason", "recognised (confidence)")
STUDY_VIEWS = (
    ("group", "ME and physiology by group (95% CI)"),
    ("event", "event-locked heart rate"),
    ("correlation", "ME measures vs physiology (Pearson)"),
)


class SpottingCancelled(MexlabError):
    """The user pressed Cancel: the spotting stopped at its next progress report."""


def face_crop(img: np.ndarray, box: np.ndarray | tuple | None, margin: float = 0.35) -> np.ndarray:
    """``img`` cropped to the face ``box`` (x0, y0, x1, y1 in the frame's pixels) with a margin on
    every side; the whole frame when the box is unknown (NaN) or empty."""
    if box is None:
        return img
    box = np.asarray(box, float)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        return img
    h, w = img.shape[:2]
    mx, my = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    x0, y0 = int(max(0, box[0] - mx)), int(max(0, box[1] - my))
    x1, y1 = int(min(w, box[2] + mx)), int(min(h, box[3] + my))
    return img[y0:y1, x0:x1] if (x1 - x0 > 4 and y1 - y0 > 4) else img


@dataclass
class EmgTrace:
    label: str
    frames: np.ndarray  # fractional frame numbers of rgb.mkv (the frame clock)
    values: np.ndarray  # envelope / its 99th percentile, minus 1.2 per channel (stacked)


def emg_traces(folder: Path, max_points: int = 4000) -> tuple[list[EmgTrace], str | None]:
    """The EMG envelope of each channel of a session on the frame axis of ``rgb.mkv`` (the frame
    clock of :mod:`acquisition.session_read`), and a note when there is none to show."""
    from analysis.physio.emg import emg_envelope
    from analysis.session_data import load

    if folder is None or not (Path(folder) / XDF_NAME).exists():
        return [], None
    try:
        data = load(folder)
    except MexlabError as exc:
        return [], f"EMG not shown: {exc}"
    emg = data.of_kind("emg")
    clock = data.frame_clock()
    if not emg:
        return [], None
    if clock is None or clock.frames.size < 2:
        return [], "EMG not shown: no frame index to place it on the video's frames"
    s = emg[0]
    fr = np.asarray(clock.frame_of(s.timestamps), float)
    out = []
    for ch in range(s.n_channels):
        env = np.asarray(emg_envelope(np.asarray(s.data[:, ch], float), s.fs), float)
        step = max(1, len(env) // max_points)
        y = env[::step] / (np.percentile(env, 99) or 1.0) - ch * 1.2
        out.append(EmgTrace(s.labels[ch], fr[::step], y))
    return out, None


def read_recognition(folder: Path | None) -> tuple[dict[tuple[int, int], tuple[str, float]], str | None]:
    """``{(onset, offset): (class, confidence)}`` of ``<folder>/analysis/recognition.json`` (written
    by `mexlab recognize`), and a note when the file exists but cannot be used."""
    path = Path(folder) / RECOGNITION_FILE if folder is not None else None
    if path is None or not path.is_file():
        return {}, None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        out = {}
        for e in obj["expressions"]:
            out[(int(e["onset"]), int(e["offset"]))] = (str(e["class"]), float(e["confidence"]))
        return out, None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {}, (
            f"{path}: not a recognition result (a JSON object with a list 'expressions' of "
            f"{{onset, offset, class, confidence}}): {type(exc).__name__} {exc}"
        )


@dataclass
class ModelChoice:
    """One entry of the recognition-model picker: ``path`` None means the default model
    (:func:`analysis.recognition.modelfile.default_model`, resolved when the recognition runs)."""

    label: str
    path: str | None


def model_choices(db_url: str | None = None) -> tuple[list[ModelChoice], str | None]:
    """The picker's entries: the default model, the shipped one, then the catalog's models whose
    file is there (one per file); and a note when the catalog or the default cannot be read."""
    from acquisition.catalog.recognition_models import list_models
    from analysis.recognition import modelfile

    notes = []
    try:
        default = modelfile.default_model()
        out = [ModelChoice(f"default ({default.name})", None)]
    except MexlabError as exc:
        out, default = [], None
        notes.append(str(exc))
    seen = {default.resolve()} if default is not None else set()
    shipped = modelfile.DEFAULT_MODEL
    if shipped.resolve() not in seen and shipped.is_file():
        out.append(ModelChoice(f"{shipped.name} (shipped)", str(shipped)))
        seen.add(shipped.resolve())
    try:
        rows = list_models(db_url)
    except MexlabError as exc:
        rows = []
        notes.append(f"catalog models not listed: {exc}")
    for r in reversed(rows):  # the newest first
        p = Path(r["path"])
        if p.is_file() and p.resolve() not in seen:
            seen.add(p.resolve())
            views = ",".join(r.get("views") or [])
            out.append(ModelChoice(f"{r['name']} ({views}; {', '.join(r.get('classes') or [])})", str(p)))
    return out, "; ".join(notes) or None


class AnalyzeModel:
    def __init__(self) -> None:
        self.folder: Path | None = None
        self.model_path: str | None = None  # the recognition model chosen (None: the default)
        self.recognised_with: str | None = None  # the model file of the last recognition run here
        self.recognised_rows: list[dict] = []  # its expressions (the table before any spotting here)
        self.result = None  # analysis.spotting.pipeline.SpotResult
        self.recognition: dict[tuple[int, int], tuple[str, float]] = {}
        self.notes: list[str] = []
        self.physio = None  # analysis.study.SessionResult
        self.study = None  # analysis.study.Study
        self._reader = None  # FrameReader of rgb.mkv

    # -- the session ------------------------------------------------------------------------
    def open(self, folder: Path) -> bool:
        """Open ``folder``; False when it is the session already open (nothing is reset)."""
        folder = Path(folder)
        if self.folder is not None and folder == self.folder:
            return False
        self.close()
        self.folder, self.result, self.physio = folder, None, None
        self.recognition, self.notes = {}, []
        self.recognised_with, self.recognised_rows = None, []
        return True

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def video(self) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / RGB_NAME if self.folder.is_dir() else self.folder

    def emg_traces(self) -> tuple[list[EmgTrace], str | None]:
        return emg_traces(self.folder)

    # -- spotting ---------------------------------------------------------------------------
    def run_spotting(
        self, interference: bool = True, progress: Callable | None = None, cancel: threading.Event | None = None
    ) -> SpotResult:
        """Spot the session (blocking: call it in a worker). ``cancel`` set: SpottingCancelled at
        the next progress report, and nothing is written (spot() writes only once complete)."""
        from analysis.spotting.pipeline import spot

        folder = self.folder
        if folder is None:
            raise InputError("no session is open")

        def report(done, total, stage):
            if cancel is not None and cancel.is_set():
                raise SpottingCancelled(
                    f"spotting of {folder} cancelled at {stage} {done}/{total}; nothing was written"
                )
            if progress is not None:
                progress(done, total, stage)

        return spot(folder, interference=interference, progress=report)

    # -- recognition ------------------------------------------------------------------------
    def run_recognition(self, progress: Callable | None = None, folder: Path | None = None) -> dict:
        """Classify the micro intervals of ``folder`` (default: the session open) with
        :attr:`model_path` (blocking: call it in a worker): the library call of `mexlab recognize`
        (which spots first when the session has no spotting yet), writing
        ``analysis/recognition.json``. Returns its result."""
        from analysis.recognition.recognize import recognize

        folder = folder or self.folder
        if folder is None:
            raise InputError("no session is open")
        return recognize(folder, self.model_path, progress=progress)

    def set_recognition(self, res: dict) -> None:
        """Take a result of :meth:`run_recognition`: the classes of the table's rows."""
        self.recognition = {
            (int(e["onset"]), int(e["offset"])): (str(e["class"]), float(e["confidence"])) for e in res["expressions"]
        }
        self.recognised_with = res["model"]
        self.recognised_rows = list(res["expressions"])
        self.notes = list(res.get("problems") or [])[:3]

    @staticmethod
    def recognition_summary(res: dict) -> str:
        n = len(res["expressions"])
        return (
            f"{n} micro-expression(s) recognised with {Path(res['model']).name} "
            f"(classes {', '.join(res['classes'])}); written to {res['written']}"
            + (f"; {len(res['problems'])} left out: {res['problems'][0]}" if res.get("problems") else "")
        )

    def set_result(self, result: SpotResult | None) -> None:
        self.result = result
        self.recognition, note = read_recognition(self.folder)
        self.notes = [note] if note else []

    def summary(self) -> str:
        r = self.result
        if r is None:
            return ""
        n_micro = sum(1 for i in r.intervals if i["type"] == "micro")
        text = (
            f"{len(r.intervals)} interval(s) ({n_micro} micro), {len(r.suppressed)} suppressed; "
            f"{r.frames_with_face}/{r.n_frames} frames with a face" + (f"; written to {r.written}" if r.written else "")
        )
        if self.recognition:
            text += f"; classes from {RECOGNITION_FILE}"
        return "; ".join([text, *(r.notes or []), *self.notes])  # a cut video, an interrupted XDF …

    def recognised(self, interval: dict) -> str:
        got = self.recognition.get((int(interval["onset"]), int(interval["offset"])))
        return f"{got[0]} ({got[1]:.2f})" if got else ""

    def rows(self) -> list[tuple]:
        """The interval table: one row per interval (with its recognised class), then the
        suppressed candidates; the columns of :data:`COLUMNS`."""
        r = self.result
        if r is None:  # recognised without a spotting run here: its micro intervals
            return [
                ("micro", e["onset"], e["apex"], e["offset"], "", "", f"{e['class']} ({e['confidence']:.2f})")
                for e in self.recognised_rows
            ]
        rows = [
            (
                i["type"],
                i["onset"],
                i["apex"],
                i["offset"],
                f"{i['score']:.2f}",
                "+".join(i.get("aus") or []),
                self.recognised(i),
            )
            for i in r.intervals
        ]
        rows += [("suppressed", s["onset"], "", s["offset"], "", s["reason"], "") for s in r.suppressed]
        return rows

    @staticmethod
    def row_frame(row: tuple) -> int:
        """The frame a row shows: its apex, else its onset."""
        return int(row[2] if row[2] != "" else row[1])

    def face_box(self, frame: int) -> np.ndarray | None:
        """The face box of the spotting's features at ``frame`` (None when unknown)."""
        feat = getattr(self.result, "features", None)
        boxes = feat.arrays.get("box") if feat is not None else None
        if boxes is None or not 0 <= frame < len(boxes):
            return None
        return boxes[frame]

    def frame_image(self, frame: int) -> np.ndarray | None:
        """Frame ``frame`` of the video, RGB, cropped to the face; None (with a note) when the file
        does not hold it (a video cut by a crash) or cannot be read."""
        from acquisition.session_read.frame_reader import FrameReader

        if self.video is None:
            return None
        try:
            if self._reader is None:
                self._reader = FrameReader(self.video, fmt="rgb24", read_ahead=0)
            img = self._reader.frame(frame, ahead=False)
        except (MexlabError, IndexError) as exc:
            self.notes = [*self.notes[-3:], f"frame {frame} not shown: {exc}"]
            return None
        return face_crop(img, self.face_box(frame))

    # -- physiology and study ---------------------------------------------------------------
    def run_physio(self) -> tuple[SessionResult, Figure]:
        """(session result, its timeline figure) of the session open (blocking); read back from the
        session's report cache (analysis/report/cache.py) when its inputs have not changed."""
        from analysis.report import cache

        return cache.session_report(self.folder)

    def physio_summary(self, sr: SessionResult) -> str:
        self.physio = sr
        pa = sr.physio
        bits = []
        d = pa.to_json() if hasattr(pa, "to_json") else {}
        if d.get("ecg"):
            bits.append(
                f"mean HR {d['ecg'].get('mean_hr_bpm', float('nan')):.1f} bpm ({d['ecg'].get('n_beats')} beats)"
            )
        if d.get("eda"):
            bits.append(f"{d['eda'].get('n_scr')} SCRs")
        for kind, why in (getattr(pa, "missing", None) or {}).items():
            if kind in ("ecg", "eda") and not d.get(kind):
                bits.append(f"no {kind.upper()} ({why})")
        return f"{self.folder}: " + ("; ".join(bits) or "no ECG or EDA stream")

    def study_selection(self, rows: list[dict]) -> tuple[str | None, list[str]]:
        """(protocol of the session open, the complete sessions of that protocol) from the catalog's
        rows (``folder``, ``protocol``, ``status``). A session open but not in the catalog (a
        folder opened directly) counts with its session.json protocol, when it is complete."""
        from acquisition.session import read_sidecar

        me = next((r for r in rows if Path(r["folder"]) == self.folder), None)
        if me is None and self.folder is not None:
            try:
                meta = read_sidecar(self.folder)
                me = {"folder": str(self.folder), "protocol": meta.get("protocol"), "status": meta.get("status")}
                rows = [*rows, me]
            except MexlabError:
                pass
        from analysis.study import study_rows

        proto = me.get("protocol") if me else None
        return proto, [r["folder"] for r in study_rows(rows, protocol=proto or "", status="complete")]

    @staticmethod
    def run_study(paths: list[str], proto: str | None) -> StudyResult:
        from analysis.study import analyse_study

        return analyse_study(paths, by="condition" if proto else "protocol")

    def study_figure(self, view: str, view_text: str = "") -> tuple[Figure | None, str]:
        """(figure or None, a line saying what it shows) of the study for ``view``."""
        from analysis.report.plots import (
            correlation_figure,
            event_locked_figure,
            group_figure,
        )

        study = self.study
        if study is None:
            return None, ""
        if view == "event":
            fig = event_locked_figure(study)
        elif view == "correlation":
            fig = correlation_figure(study.table, study.correlations)
        else:
            fig = group_figure(study.table, study.by)
        if fig is None:
            return None, f"study: not enough sessions or groups for the {view_text or view} figure"
        return fig, (
            f"study: {len(study.table)} row(s), grouped by {study.by}; "
            f"{len(study.tests)} test(s), {len(study.correlations)} correlation(s)"
        )
