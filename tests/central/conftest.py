"""Both store backends for the central tests: SQLite files, and databases on one throwaway
PostgreSQL server started once per test session (tests/central/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.pg import PostgresServer

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's central store lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "central.sqlite")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    yield server.emptied()
