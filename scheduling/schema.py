"""Bringing a database to the schema of this version: Alembic migrations in `migrations/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

from .db import create_engine, is_sqlite, one_process_at_a_time
from .errors import StartupError
from .models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class SchemaError(StartupError):
    """The database does not match the migrations (e.g. a broken foreign key after one)."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(url: str, action: Any) -> Any:
    # A connection of its own, with SQLite's foreign keys off while tables are rebuilt and
    # checked afterwards; all of it one transaction, so a failure leaves nothing half-made.
    engine = create_engine(url, foreign_keys=False, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await one_process_at_a_time(connection)  # two processes never migrate at once
            result = await connection.run_sync(action)
            if is_sqlite(url):
                broken = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
                if broken:
                    raise SchemaError(f"foreign keys broken after migrating: {broken[:3]}")
            return result
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, lambda conn: command.upgrade(alembic_config(conn), revision))


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, lambda conn: command.downgrade(alembic_config(conn), revision))


async def current_revision(url: str) -> str | None:
    return await _run(url, lambda conn: MigrationContext.configure(conn).get_current_revision())


async def differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty: in step)."""

    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": is_sqlite(url)}
        )
        return compare_metadata(context, Base.metadata)

    return await _run(url, compare)
