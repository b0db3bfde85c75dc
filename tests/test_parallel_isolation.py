"""The suite runs on pytest-xdist workers (`make test`): no two workers share a resource."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_DB, work_unit, worker_redis_db
from tests.topology.conftest import _worker_range


def test_each_worker_flushes_a_redis_database_of_its_own() -> None:
    assert worker_redis_db(15, None) == 15  # not under xdist: the base itself
    assert [worker_redis_db(15, f"gw{n}") for n in range(4)] == [15, 14, 13, 12]


def test_a_worker_past_database_0_is_refused_saying_what_to_change() -> None:
    assert worker_redis_db(1, "gw1") == 0
    with pytest.raises(pytest.UsageError, match="GUICHET_TEST_REDIS_DB"):
        worker_redis_db(1, "gw2")


def test_the_redis_url_fixture_is_on_this_worker_s_database(redis_url: str) -> None:
    assert redis_url.rsplit("/", 1)[1] == str(REDIS_DB)


def test_workers_search_disjoint_slices_of_the_private_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert _worker_range() == (7400, 600)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for n in range(3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{n}")
        first, size = _worker_range()
        slices.append(set(range(first, first + size)))
    assert slices[0].isdisjoint(slices[1]) and slices[1].isdisjoint(slices[2])
    assert min(slices[0]) == 7400 and max(slices[2]) <= 7999


def test_the_browser_tests_are_one_unit_of_work_and_the_others_go_one_by_one() -> None:
    scopes = [
        work_unit(nodeid)
        for nodeid in (
            "tests/browser/test_simulator.py::test_language_and_map",
            "tests/browser/test_other.py::test_x[fr]",
            "tests/civic/test_screens.py::test_a",
            "tests/civic/test_screens.py::test_b",
        )
    ]
    assert scopes == [
        "browser",
        "browser",
        "tests/civic/test_screens.py::test_a",
        "tests/civic/test_screens.py::test_b",
    ]
