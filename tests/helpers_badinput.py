"""Shared by the bad-input tests: one recorded (simulated) session per test process, the real
``mexlab`` command, and a fingerprint of every file under a folder (to show nothing changed)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from tests.helpers_paths import MEXLAB, REPO

_SESSION: dict[str, Path] = {}


def mexlab(*args, env=None, timeout=120, input=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [*MEXLAB, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e, cwd=REPO, input=input
    )


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args) -> Result:
    """``mexlab ARGS`` in this process, through the real entry point (app.cli.main): much faster
    than a subprocess. An exception that escapes main() is what the user would see as a traceback:
    it is printed into stderr, where the tests look for "Traceback"."""
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the traceback a user would see
            traceback.print_exc(file=err)
            rc = 99
    return Result(rc, out.getvalue(), err.getvalue())


def recorded_session(tmp_path_factory) -> Path:
    """A short simulated recording (made once per test process; copy it before changing it)."""
    if "s" not in _SESSION:
        out = tmp_path_factory.mktemp("badinput-rec") / "s1"
        r = mexlab("record", "--simulate", "--duration", "6", "--out", out, "--no-catalog")
        assert r.returncode == 0, r.stderr
        _SESSION["s"] = out
    return _SESSION["s"]


def copy_session(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def fingerprint(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (a file or a folder), by path."""
    out = {}
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            st = p.stat()
            if st.st_size > 16 << 20:  # the hostile (sparse) files: size, time and inode tell a change
                out[str(p)] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
            else:
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused(res, *needles):
    """Exit != 0, no traceback, one 'error:' line, and every needle in the message."""
    text = res.stdout + res.stderr
    assert res.returncode != 0, text
    assert "Traceback" not in text, text
    assert "error" in res.stderr.lower(), text
    for n in needles:
        assert str(n) in res.stderr, (n, text)
