"""Fixtures of the acquisition tests: a catalog on a real SQLite file and on the PostgreSQL server
(``db_url``, ``catalog``; helpers in tests/helpers_catalog.py), and real recordings for `mexlab
check` and session health (``recorded``; helpers in tests/helpers_check.py)."""

from __future__ import annotations

import pytest

from acquisition.catalog import Catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture
def catalog(db_url):
    cat = Catalog(db_url)
    yield cat
    cat.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One 20-frame rgb.mkv, a consistent frame index and one lacking frame 7 (both recorded)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.helpers_check import N_FRAMES, record_frame_index, write_rgb_mkv

    root = tmp_path_factory.mktemp("recorded")
    write_rgb_mkv(root / "rgb.mkv", N_FRAMES)
    # two LabRecorderCLI runs side by side: stopping one takes up to ~5 s (its clock-offset thread)
    with ThreadPoolExecutor(2) as pool:
        full = pool.submit(record_frame_index, root / "full.xdf", list(range(N_FRAMES)))
        lacking = pool.submit(record_frame_index, root / "lacking.xdf", [i for i in range(N_FRAMES) if i != 7])
        return {"root": root, "full": full.result(), "lacking": lacking.result()}
