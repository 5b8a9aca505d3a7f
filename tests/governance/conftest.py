"""Fixtures of the governance tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.governed_lake import Governed, build_governed_lake


@pytest.fixture
def governed(tmp_path: Path) -> Iterator[Governed]:
    g = build_governed_lake(tmp_path / "lake")
    try:
        yield g
    finally:
        g.lake.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    """One governed lake per test module, for tests that only read (and reset what they change)."""
    g = build_governed_lake(tmp_path_factory.mktemp("shared") / "lake")
    try:
        yield g
    finally:
        g.lake.close()
