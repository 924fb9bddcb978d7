"""End-to-end fixtures: one real gateway process per test module (see gateway_process.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import ROOT_DIR
from tests.e2e.gateway_process import Server, gateway_process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with gateway_process(tmp_path_factory.mktemp("gateway-serve")) as running:
        yield running


@pytest.fixture
def portal_dist() -> Path:
    return ROOT_DIR / "portal" / "dist"
