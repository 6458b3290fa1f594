"""A federated run's folder: every global version with its lineage, the event log and the status
that ``mexlab fl status`` shows. All files are written by temp-and-rename.

    OUT/run.json                 strategy, settings, sites, the final summary
    OUT/status.json              sites (last update, staleness, updates, rejected), global metrics
    OUT/events.jsonl             every event (merged, buffered, rejected + reason, site-lost, ...)
    OUT/versions/vNNNNN.safetensors  global version N: a recognition model file whose metadata
                                     holds its lineage (strategy, parent, sites merged, settings)
                                     and metrics; registered in the catalog's models table
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from analysis.federated.server_loop import RunLog


def _atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic(Path(path), (json.dumps(obj, indent=1, default=_plain) + "\n").encode())


def _plain(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


class RunRecord:
    def __init__(self, out: Path | None, meta: dict):
        self.out = Path(out) if out else None
        self.meta = dict(meta)
        self.metrics: dict[int, dict] = {}
        self.catalog_ok = True
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(self.out / "run.json", {**self.meta, "started": time.time()})

    def version(self, v: int, weights: list[np.ndarray], strategy: Any, t: float, metrics: dict | None = None) -> None:
        """Global version ``v`` as a recognition model file (``analysis.recognition.modelfile``,
        loadable by ``mexlab recognize --model``) with its lineage, registered in the catalog."""
        if metrics:
            self.metrics[v] = metrics
        if not self.out:
            return
        from analysis.recognition import modelfile, task

        lineage = {
            "run": str(self.out.resolve()),
            "version": v,
            "parent": v - 1 if v else None,
            "strategy": strategy.name,
            "sites_merged": list(getattr(strategy, "merged_sites", {}).get(v, [])),
            "virtual_or_wall_t": round(t, 3),
            "settings": self.meta.get("settings", {}),
        }
        model = task.new_model(len(self.meta["class_names"]), tuple(self.meta["views"]))
        task.set_weights(model, weights)
        path = self.out / "versions" / f"v{v:05d}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = modelfile.save(
            path,
            model,
            {
                "classes": list(self.meta["class_names"]),
                "width": 16,
                "kind": "federated",
                "metrics": metrics or {},
                "federated": lineage,
            },
        )
        if not self.catalog_ok:
            return
        try:
            from acquisition.catalog.recognition_models import register_model

            register_model(path, meta)
        except Exception as exc:  # noqa: BLE001 - the run goes on without the catalog; said once
            self.catalog_ok = False
            print(f"mexlab fl: the global versions are not registered in the catalog ({exc})", file=sys.stderr)

    def status(self, log: RunLog, version: int, t: float, final: dict | None = None) -> None:
        if not self.out:
            return
        write_json(
            self.out / "status.json",
            {
                "strategy": self.meta.get("strategy"),
                "version": version,
                "t": round(t, 3),
                "updated": time.time(),
                "sites": log.sites,
                "global_metrics": self.metrics.get(version) or log.scored(),
                "final": final,
                "bytes_up": log.bytes_up,
                "bytes_down": log.bytes_down,
            },
        )
        data = "".join(json.dumps(e, default=_plain) + "\n" for e in log.events)
        _atomic(self.out / "events.jsonl", data.encode())


def read_status(out: Path) -> dict:
    from acquisition.errors import FileFormatError, NotFoundError

    p = Path(out) / "status.json"
    if not p.is_file():
        raise NotFoundError(f"{out}: no federated run here (no status.json); give the coordinator's --out folder")
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{p}: unreadable ({exc})") from None
