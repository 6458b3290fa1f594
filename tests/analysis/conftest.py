"""Fixtures of the analysis tests: the physiology study recorded once per run from the simulated rig
and LSL outlets through LabRecorder (tests/helpers_physio.py): ``study``, ``analysed``, and
``record_early``, which a module names in its ``pytestmark`` to start the recordings in the
background as soon as its first test runs."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def record_early(request, tmp_path_factory):
    """Start the shared recordings in a background thread when a selected test needs them."""
    from tests.helpers_physio import start_in_background, study_root

    if any("study" in item.fixturenames for item in request.session.items):
        start_in_background(study_root(tmp_path_factory))
    yield


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    from tests.helpers_physio import study_recordings, study_root

    return study_recordings(study_root(tmp_path_factory))


@pytest.fixture(scope="session")
def analysed(study):
    """The three sessions analysed once (analysis.study.SessionResult), for tests that only read."""
    from tests.helpers_physio import analysed_once

    return analysed_once(study)
