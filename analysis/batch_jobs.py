"""The actions a batch runs on one session (:mod:`analysis.batch`), their results and their keys.

| action | result (session folder) | result (a file) | inputs in the key |
|---|---|---|---|
| ``spot`` | ``analysis/spotting.json`` | ``<video>.spotting.json`` | rgb, depth, XDF, session.json |
| ``recognize`` | ``analysis/recognition.json`` | ``<video>.recognition.json`` | rgb, depth, spotting.json, the model file |
| ``physio`` | ``analysis/physio.json`` | ``<xdf>.physio.json`` | XDF, session.json, spotting.json, ground truth |
| ``study`` | — (the :class:`analysis.study.SessionResult` goes back to the caller; never skipped) | | |

A result is *current* when ``<result>.key`` holds the key computed now: the content fingerprints of
the inputs (:func:`analysis.features_cache.fingerprint`: size + first and last MiB), the job's
parameters and a digest of the source of the code that computes it. A changed video, a re-run
spotting, another model, other parameters or edited code each make the result stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import DataError, InputError, MexlabError

if TYPE_CHECKING:
    from collections.abc import Callable

    from analysis.batch import Job
    from analysis.study import SessionResult

ROOT = Path(__file__).resolve().parents[1]
# the code each action's result depends on (a digest of these sources is part of the key)
CODE = {
    "spot": ("analysis/spotting", "analysis/face", "analysis/session_data.py"),
    "recognize": ("analysis/spotting", "analysis/face", "analysis/recognition"),
    "physio": ("analysis/physio", "analysis/session_data.py"),
}
_code_digests: dict[str, str] = {}


def code_digest(action: str) -> str:
    if action not in _code_digests:
        h = hashlib.sha256()
        for rel in CODE.get(action, ()):
            p = ROOT / rel
            for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
                if f.is_file():
                    h.update(f.relative_to(ROOT).as_posix().encode())
                    h.update(f.read_bytes())
        _code_digests[action] = h.hexdigest()[:16]
    return _code_digests[action]


def _session_files(path: Path) -> dict:
    from acquisition.session import is_session_folder, read_sidecar
    from acquisition.session_read import names

    if not is_session_folder(path):
        return {}
    meta = read_sidecar(path)
    files = meta.get("files") or {}
    out = {"sidecar": path / names.SIDECAR}
    for k, default in (("rgb", names.RGB_NAME), ("depth", names.DEPTH_NAME), ("xdf", names.XDF_NAME)):
        out[k] = path / (files.get(k) or default)
    out["spotting"] = path / names.SPOTTING_FILE
    out["ground_truth"] = path / names.GROUND_TRUTH_NAME
    return out


def result_path(action: str, path: str | Path) -> Path | None:
    from acquisition.session_read import names

    path = Path(path)
    if action == "study":
        return None
    if path.is_dir():
        return (
            path
            / {"spot": names.SPOTTING_FILE, "recognize": names.RECOGNITION_FILE, "physio": names.PHYSIO_FILE}[action]
        )
    return path.with_name(
        path.name + {"spot": ".spotting.json", "recognize": ".recognition.json", "physio": ".physio.json"}[action]
    )


def _inputs(action: str, path: Path, params: dict) -> list:
    files = _session_files(path)
    if not files:  # a plain video / XDF file
        names = [path]
        if action == "recognize":
            names.append(result_path("spot", path))
    else:
        names = {
            "spot": ["sidecar", "rgb", "depth", "xdf"],
            "recognize": ["sidecar", "rgb", "depth", "spotting"],
            "physio": ["sidecar", "xdf", "spotting", "ground_truth"],
        }[action]
        names = [files[n] for n in names]
    if action == "recognize":
        from analysis.recognition import modelfile

        names.append(Path(params.get("model") or modelfile.DEFAULT_MODEL))
    return names


def job_key(job: Job) -> str:
    """The key of ``job`` now (see the module doc)."""
    from analysis.features_cache import fingerprint

    params = dict(job.params)
    h = hashlib.sha256()
    h.update(json.dumps([job.action, params, code_digest(job.action)], sort_keys=True, default=str).encode())
    for f in _inputs(job.action, Path(job.path), params):
        f = Path(f)
        h.update(f"{f.name}:{fingerprint(f) if f.is_file() else '-'};".encode())
    return h.hexdigest()[:32]


def _key_file(result: Path) -> Path:
    return result.with_name(result.name + ".key")


def is_current(job: Job) -> bool:
    """True when the job's result exists and its stored key equals :func:`job_key` now."""
    if job.action == "study":
        return False
    try:
        res = result_path(job.action, job.path)
        kf = _key_file(res)
        if not res.is_file() or not kf.is_file():
            return False
        return json.loads(kf.read_text()).get("key") == job_key(job)
    except (OSError, ValueError, MexlabError):
        return False  # unreadable: run it (and let the job say what is wrong)


def _store_key(job) -> None:
    from acquisition.atomic import write_text

    res = result_path(job.action, job.path)
    try:
        write_text(
            _key_file(res),
            json.dumps({"key": job_key(job), "action": job.action, "params": dict(job.params)}, default=str) + "\n",
        )
    except OSError:
        pass  # read-only media: no skipping next time, never an error


def run_job(job: Job, progress: Callable[[int, int, str], None], store_key: bool = True) -> dict | SessionResult:
    """Run one job in this process; returns its summary (``study``: the SessionResult)."""
    fn = ACTIONS.get(job.action)
    if fn is None:
        raise InputError(f"unknown batch action {job.action!r}")
    out = fn(Path(job.path), dict(job.params), progress)
    if store_key and job.action != "study":
        _store_key(job)
    return out


# --- the actions -----------------------------------------------------------------------------


def _spot(path: Path, params: dict, progress) -> dict:
    from analysis.spotting.pipeline import spot, write_json

    res = spot(
        path, interference=params.get("interference", True), progress=progress, use_cache=params.get("use_cache", True)
    )
    d = res.as_dict()
    if not res.written:
        res.written = str(write_json(result_path("spot", path), d))
    return {
        "written": res.written,
        "n_frames": d["n_frames"],
        "intervals": len(d["intervals"]),
        "fps": d["fps"],
        "notes": list(res.notes),
    }


def _recognize(path: Path, params: dict, progress) -> dict:
    from analysis.face.video import probe
    from analysis.recognition.recognize import recognize
    from analysis.spotting.inputs import resolve_input

    probe(resolve_input(path).video)
    res = recognize(path, params.get("model"), progress=progress)
    return {"written": res["written"], "expressions": len(res["expressions"]), "problems": list(res["problems"])}


def physio_json(path: str | Path, names: dict) -> tuple[dict, list[str]]:
    """``mexlab physio --json``'s object for one recording, and its notes (MexlabError: nothing
    to analyse)."""
    from analysis.physio import analyse
    from analysis.physio.events import event_responses

    pa = analyse(path, **names)
    if not any(pa.to_json().get(k) for k in ("ecg", "ppg", "eda", "emg")):
        have = ", ".join(f"{s.name} [{s.type}]" for s in pa.session.streams) or "none"
        extra = " (the recording was interrupted)" if any("interrupted" in n for n in pa.notes) else ""
        raise DataError(f"{path}: no ECG, PPG, EDA or EMG signal to analyse{extra}; streams in it: {have}")
    notes = [f"no {kind.upper()}: {why}" for kind, why in pa.missing.items()] + list(pa.notes)
    out = pa.to_json()
    t0 = pa.session.start
    out["events"] = [r.to_json(t0) for r in event_responses(pa)]
    return out, notes


def _physio(path: Path, params: dict, progress) -> dict:
    from analysis.spotting.pipeline import write_json

    progress(0, 1, "physio")
    out, notes = physio_json(path, dict(params.get("names") or {}))
    written = write_json(result_path("physio", path), out)
    progress(1, 1, "physio")
    return {"written": str(written), "events": len(out["events"]), "notes": notes}


def _study(path: Path, params: dict, progress):
    from analysis.report.cache import analyse_session  # read back when the session has not changed

    progress(0, 1, "physiology")
    sr = analyse_session(path, names=dict(params.get("names") or {}), use_truth=bool(params.get("use_truth")))
    progress(1, 1, "physiology")
    return sr


ACTIONS = {"spot": _spot, "recognize": _recognize, "physio": _physio, "study": _study}


def describe(action: str, result: object) -> str:
    """One line on a done job's result (what the CLI prints after the session's path and what the
    Analyze workspace's batch table shows)."""
    if not isinstance(result, dict):
        return ""
    if action == "spot":
        return f"{result['n_frames']} frames, {result['intervals']} interval(s), written: {result['written']}"
    if action == "recognize":
        return f"{result['expressions']} micro-expression(s), written to {result['written']}"
    if action == "physio":
        return f"{result['events']} event(s), written to {result['written']}"
    return ""
