"""What the Models view shows and does, without Qt (tested without a display).

Rows: the recognition models of the catalog's ``models`` table plus the model shipped with mexlab
(always listed, even when not registered), one row per sha256. Per row: name, date, views,
classes, metrics (UF1/UAR/accuracy and what they were measured on), the file's sha256, whether the
file is still there and whether it is the default (:func:`analysis.recognition.modelfile.
default_model`: the lab's choice, else the shipped model). ``set_default`` checks the file (a
damaged or foreign model is refused with a message) and remembers it; ``use_shipped`` forgets the
choice.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import MexlabError

COLUMNS = ("default", "name", "date", "views", "classes", "UF1", "UAR", "accuracy", "n test", "sha256")


def _metric(m: dict | None, key: str) -> str:
    v = (m or {}).get(key)
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


class ModelsState:
    def __init__(self, db_url: str | None = None):
        self.db_url = db_url
        self.rows: list[dict] = []
        self.error: str | None = None  # the catalog could not be read (shown, not raised)
        self.default_error: str | None = None

    # ------------------------------------------------------------------ reading
    def refresh(self) -> list[dict]:
        from acquisition.catalog.recognition_models import list_models
        from analysis.recognition import modelfile

        rows, self.error = [], None
        try:
            rows = list_models(self.db_url)
        except MexlabError as exc:
            self.error = str(exc)
        shipped = modelfile.DEFAULT_MODEL
        ship_sha = modelfile.file_sha256(shipped) if shipped.is_file() else None
        if ship_sha and not any(r["sha256"] == ship_sha for r in rows):
            try:
                meta, _ = modelfile.read_meta(shipped)
                rows.insert(
                    0,
                    {
                        "sha256": ship_sha,
                        "path": str(shipped),
                        "name": shipped.name,
                        "kind": meta.get("kind"),
                        "classes": meta.get("classes") or [],
                        "views": meta.get("views") or [],
                        "n_samples": (meta.get("training") or {}).get("n"),
                        "metrics": meta.get("metrics"),
                        "mexlab_version": meta.get("mexlab_version"),
                        "created_at": meta.get("created"),
                        "registered_at": None,
                    },
                )
            except MexlabError as exc:
                self.error = f"the shipped model: {exc}"
        try:
            default = modelfile.default_model()
            self.default_error = None
        except MexlabError as exc:
            default, self.default_error = None, str(exc)
        for r in rows:
            p = Path(r["path"])
            r["exists"] = p.is_file()
            r["shipped"] = r["sha256"] == ship_sha
            r["default"] = default is not None and r["exists"] and p.resolve() == Path(default).resolve()
        self.rows = rows
        return rows

    # ------------------------------------------------------------------ table
    def cell(self, i: int, column: str) -> str:
        r = self.rows[i]
        m = r.get("metrics") or {}
        if column == "default":
            return "★" if r["default"] else ""
        if column == "name":
            tag = " (shipped)" if r["shipped"] else ""
            return r["name"] + tag + ("" if r["exists"] else " — file missing")
        if column == "date":
            return (r.get("created_at") or "")[:16].replace("T", " ") or "-"
        if column == "views":
            return ",".join(r.get("views") or [])
        if column == "classes":
            return ", ".join(r.get("classes") or [])
        if column in ("UF1", "UAR", "accuracy"):
            return _metric(m, column.lower())
        if column == "n test":
            return str(m.get("n", "-")) if m else "-"
        if column == "sha256":
            return r["sha256"][:12]
        raise KeyError(column)

    def tooltip(self, i: int, column: str) -> str:
        r = self.rows[i]
        if column == "sha256":
            return r["sha256"]
        if column == "name":
            return r["path"]
        if column in ("UF1", "UAR", "accuracy", "n test"):
            return str((r.get("metrics") or {}).get("test") or "")
        return ""

    def details(self, i: int) -> str:
        r = self.rows[i]
        m = r.get("metrics") or {}
        lines = [
            f"{r['name']}  ({r.get('kind') or 'model'})",
            f"file: {r['path']}",
            f"sha256: {r['sha256']}",
            f"mexlab {r.get('mexlab_version') or '?'}, {r.get('n_samples') or '?'} training samples",
        ]
        if m.get("test"):
            lines.append(f"tested on: {m['test']}")
        for c, pc in (m.get("per_class") or {}).items():
            lines.append(f"  {c}: F1 {pc.get('f1', 0):.3f}, recall {pc.get('recall', 0):.3f}, n {pc.get('n', '?')}")
        if not m:
            lines.append("no metrics in its metadata")
        return "\n".join(lines)

    def confusion(self, i: int) -> tuple[list[str], list[list[int]]] | None:
        c = (self.rows[i].get("metrics") or {}).get("confusion")
        if not c or not c.get("labels") or not c.get("matrix"):
            return None
        return list(c["labels"]), [list(map(int, row)) for row in c["matrix"]]

    def default_index(self) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r["default"]), None)

    # ------------------------------------------------------------------ actions
    def set_default(self, i: int) -> dict:
        """Make row ``i``'s model the default (checked first); returns the choice."""
        from analysis.recognition import modelfile

        r = self.rows[i]
        if not r["exists"]:
            raise MexlabError(f"{r['path']}: the model file is missing; it cannot be the default")
        if modelfile.file_sha256(r["path"]) != r["sha256"]:
            raise MexlabError(
                f"{r['path']}: the file has changed since it was registered "
                f"(sha256 differs); register it again with `mexlab recognition train`"
            )
        choice = modelfile.set_default_model(None) if r["shipped"] else modelfile.set_default_model(r["path"])
        self.refresh()
        return choice or {"path": r["path"], "sha256": r["sha256"]}

    def use_shipped(self) -> None:
        from analysis.recognition import modelfile

        modelfile.set_default_model(None)
        self.refresh()
