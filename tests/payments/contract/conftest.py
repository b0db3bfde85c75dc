"""The contract suite's fixtures: one run of every test per harness module found."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.live_server import LiveServer
from tests.payments.conftest import CALLBACK_TOKEN
from tests.payments.contract import harnesses
from tests.payments.contract.harness import Harness

HARNESSES: list[type[Harness]] = [
    importlib.import_module(f"{harnesses.__name__}.{module.name}").HARNESS
    for module in pkgutil.iter_modules(harnesses.__path__)
]


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.provider)
def harness(request: pytest.FixtureRequest, live: LiveServer) -> Iterator[Harness]:
    """Yield a started harness of one provider."""
    running: Harness = request.param(live.url, CALLBACK_TOKEN)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], harness: Harness) -> dict[str, Any]:
    """Return the payments settings with the harness's provider as the only operator."""
    return {
        **app_config,
        "payment_operators": f"{harness.operator}:{harness.provider}",
        **harness.settings(),
    }
