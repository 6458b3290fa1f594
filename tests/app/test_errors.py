"""The error types (acquisition/errors.py): one module every library imports, subtypes a caller can
act on, and each of them still a MexlabError the command line prints as one line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from acquisition import errors
from acquisition.errors import MexlabError
from protocols.errors import ProtocolError

REPO = Path(__file__).resolve().parents[2]

ACTIONABLE = [
    "InputError",
    "NotFoundError",
    "FileFormatError",
    "DataError",
    "DeviceError",
    "OutputError",
    "CatalogError",
    "ServiceError",
    "InstallError",
    "Cancelled",
]


def test_every_type_is_a_mexlab_error_with_its_own_meaning():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, MexlabError), name
        assert cls.__doc__ and cls.__doc__.strip(), f"{name} says what it means"
    assert len({getattr(errors, n) for n in ACTIONABLE}) == len(ACTIONABLE)  # distinct classes
    for a in ACTIONABLE:  # no actionable type is another's special case
        for b in ACTIONABLE:
            assert a == b or not issubclass(getattr(errors, a), getattr(errors, b)), (a, b)
    assert errors.BadValue is errors.InputError
    # the narrower types kept from before are special cases of the actionable ones
    assert issubclass(errors.SessionFormatError, errors.FileFormatError)
    assert issubclass(errors.CameraFileError, errors.FileFormatError)
    assert issubclass(errors.StreamNotFoundError, errors.NotFoundError)
    assert issubclass(ProtocolError, errors.FileFormatError)


def test_exit_code_and_message():
    e = errors.NotFoundError("x.csv: no such file")
    assert str(e) == "x.csv: no such file" and e.exit_code == 2
    assert errors.ServiceError("down", exit_code=3).exit_code == 3
    with pytest.raises(MexlabError):
        raise errors.DataError("too few subjects")


def test_the_errors_module_imports_nothing_of_the_project():
    """Any library may import it, so it may import none of them (no circle can pass through it)."""
    tree = ast.parse((REPO / "acquisition" / "errors.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__"}, imported


def test_the_cli_prints_a_subtype_as_one_line_and_exits_non_zero(tmp_path):
    """A NotFoundError raised in analysis/ (evaluation.read_intervals) reaches the user as one line."""
    missing = tmp_path / "nothing.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "evaluate-spotting", "--gt", str(missing), "--pred", str(missing)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nothing.csv" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
