"""Test databases: a migrated template per session, a clean database per test.

SQLite: the template file is copied for each test. PostgreSQL: one database per session named
after the process, emptied (TRUNCATE) before each test; migration tests get a fresh empty one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from scheduling import schema
from scheduling.db import create_engine
from scheduling.models import Base

from .postgres_available import postgres_url


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _admin(statements: list[str]) -> None:
    engine = create_engine(postgres_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def postgres_database_url(name: str) -> str:
    return make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)


def create_postgres_database(name: str) -> str:
    asyncio.run(
        _admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'])
    )
    return postgres_database_url(name)


def drop_postgres_database(name: str) -> None:
    asyncio.run(_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


def session_database_name(suffix: str = "") -> str:
    return f"kerralla_test_{os.getpid()}{suffix}"


class TemplateDatabase:
    """The migrated schema once per session; `fresh()` hands out a clean database for a test."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.template = folder / "template.db"
            asyncio.run(schema.upgrade(sqlite_url(self.template)))
        else:
            self.url = create_postgres_database(session_database_name())
            asyncio.run(schema.upgrade(self.url))

    async def fresh(self, folder: Path) -> str:
        if self.kind == "sqlite":
            target = folder / "kerralla.db"
            shutil.copyfile(self.template, target)
            return sqlite_url(target)
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()
        return self.url

    def close(self) -> None:
        if self.kind == "postgresql":
            drop_postgres_database(session_database_name())
