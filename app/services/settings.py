"""Settings that persist between runs: a JSON file in the user config folder (no Qt needed).

``MEXLAB_CONFIG_DIR`` moves the folder (tests use a temporary one).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs


def config_dir() -> Path:
    env = os.environ.get("MEXLAB_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir("mexlab"))


MAX_FREE_MINUTES = 24 * 60.0  # the most the pre-flight's disk check may ask for


@dataclass
class Settings:
    output_folder: str = field(default_factory=lambda: str(Path.home() / "mexlab-sessions"))
    database_url: str = ""  # empty: MEXLAB_DB or the default SQLite catalog
    required_streams: list[str] = field(default_factory=list)  # LSL requests (NAME, type=..., source_id=...)
    rgb_mode: str = "848x480@30"
    depth_mode: str = "848x480@30"
    source: str = "simulate"  # simulate | live | camera-file | none
    camera_file: str = ""
    participant_prefix: str = "P"
    preview_fps: int = 30
    min_free_minutes: float = 5.0  # pre-flight: the recording time the output folder's disk must hold
    shortcuts: dict[str, str] = field(default_factory=dict)  # action id -> keys (app/gui/shortcuts.py)

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def problem(cls) -> str | None:
        """What is wrong with the settings file (None: fine or absent)."""
        p = cls.path()
        if not p.exists():
            return None
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"{p}: not readable as JSON ({exc})"
        if not isinstance(data, dict):
            return f"{p}: not a JSON object of settings"
        return None

    @classmethod
    def load(cls) -> Settings:
        p = cls.path()
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in data.items() if k in known})
        m = s.min_free_minutes
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m <= MAX_FREE_MINUTES:
            s.min_free_minutes = cls.min_free_minutes  # a hand-edited value that is not a time: the default
        return s

    def save(self) -> None:
        p = self.path()
        p.parent.mkdir(parents=True, exist_ok=True)
        if self.problem() is not None:  # an unreadable file is kept aside, never overwritten and lost
            os.replace(p, p.with_name(p.name + ".unreadable"))
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, p)
