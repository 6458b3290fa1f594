"""A skip is a pass that proves nothing: on CI (``MEXLAB_REQUIRE_ALL=1``, set by ``make test`` and
``.ci/run``) every skipped test is reported as FAILED, with the reason it gave.

CI's machine has everything the suite needs — a PostgreSQL server, root for tmpfs (disk full) and
network namespaces (no multicast), the reference files in ../shared, LabRecorderCLI — so a test
that skips there hides a broken set-up or a broken import. On a developer's machine (the variable
unset or ``0``) skips stay skips, and ``-rs`` (pyproject's addopts) lists each with its reason.

The only skips tolerated on CI are those in :data:`TOLERATED` (a reason that depends on luck, not on
the machine). tests/conftest.py loads this hook; tests/test_skip_policy.py tests it.
"""

from __future__ import annotations

import os

import pytest

ENV = "MEXLAB_REQUIRE_ALL"

#: substrings of skip reasons that may happen on CI too (chance, not a missing part)
TOLERATED = ("could not find a dead pid",)


def required() -> bool:
    return os.environ.get(ENV, "").strip() not in ("", "0")


def _reason(report) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not required():
        return
    reason = _reason(report)
    if any(t in reason for t in TOLERATED):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped where every test must run ({ENV}=1): {reason}\n"
        f"(install what it needs, or run with {ENV}=0 on a machine without it)"
    )
