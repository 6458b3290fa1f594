"""Acquisition: RealSense cameras, LSL streams, the recording engine, the simulated rig, the catalog.

No Qt here. The GUI (app/) is a view over these classes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _quiet_liblsl() -> None:
    """liblsl logs INFO lines to stderr at start-up. Unless the lab has its own LSL configuration
    (LSLAPICFG or an lsl_api.cfg in the usual places — kept untouched), use one that only logs errors.
    The variable is inherited by LabRecorderCLI, which mexlab starts."""
    if os.environ.get("LSLAPICFG"):
        return
    for p in ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg"):
        if Path(p).expanduser().exists():
            return
    path = Path(tempfile.gettempdir()) / "mexlab-lsl_api.cfg"
    try:
        if not path.exists():
            path.write_text("[log]\nlevel = -2\n", encoding="utf-8")
        os.environ["LSLAPICFG"] = str(path)
    except OSError:
        pass


_quiet_liblsl()
