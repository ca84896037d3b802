"""Shared fixtures. `--db=postgresql` (or KERRALLA_TEST_DB) runs the database tests there."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduling.db import create_engine, session_factory

from .databases import (
    TemplateDatabase,
    create_postgres_database,
    drop_postgres_database,
    session_database_name,
    sqlite_url,
)
from .harness import BotHarness, running_bot

DB_FIXTURES = {"database_url", "empty_database_url", "engine", "sessions", "bot"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("KERRALLA_TEST_DB", "sqlite"),
        help="the database the database tests run on",
    )
    parser.addoption(
        "--days-ahead",
        type=int,
        default=int(os.environ.get("KERRALLA_TEST_DAYS_AHEAD", "0")),
        help="run with this process's clock moved so many days ahead (time-machine): the "
        "suite must pass on any date (subprocesses, browsers and PostgreSQL keep the real one)",
    )


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--days-ahead")
    if days:
        import time_machine

        travel = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        travel.start()
        config.add_cleanup(travel.stop)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("db")


def pytest_report_header(config: pytest.Config) -> str:
    ahead = config.getoption("--days-ahead")
    return f"kerralla database: {config.getoption('--db')}" + (
        f"; the clock {ahead} days ahead ({datetime.now(UTC):%Y-%m-%d})" if ahead else ""
    )


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def template_database(
    db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TemplateDatabase]:
    template = TemplateDatabase(db_kind, tmp_path_factory.mktemp("template"))
    yield template
    template.close()


@pytest.fixture
async def database_url(template_database: TemplateDatabase, tmp_path: Path) -> str:
    """A clean database at this version's schema."""
    return await template_database.fresh(tmp_path)


@pytest.fixture
def empty_database_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for the migration tests."""
    if db_kind == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    name = session_database_name("_empty")
    yield create_postgres_database(name)
    drop_postgres_database(name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[BotHarness]:
    """Kerralla's real handlers, polling a fake Bot API over HTTP, on a clean database."""
    async with running_bot(database_url) as harness:
        yield harness
