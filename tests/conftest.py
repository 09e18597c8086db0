"""Shared pytest fixtures. Keep the Jimeng emulator fixture first; add others below."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator import FakeJimeng
from tests.pg import pg_cluster, pg_url, shared_place, store_backend  # noqa: F401  (a real PostgreSQL: tests/pg.py)


@pytest.fixture
async def fake_jimeng() -> AsyncIterator[FakeJimeng]:
    """A started Jimeng upstream emulator on 127.0.0.1 with default settings; closed at teardown."""
    fake = FakeJimeng()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
