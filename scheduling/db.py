"""The database engine and sessions: SQLite for one machine, PostgreSQL for a county."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from .errors import StartupError


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(foreign_keys: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions leave DDL outside any transaction; turn them
        # off and begin explicitly (see _sqlite_begin), as SQLAlchemy's SQLite notes advise.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Foreign keys are off in SQLite unless asked for on every connection; WAL lets readers
        # go on while one writer writes; busy_timeout makes a second writer wait, not fail.
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    return on_connect


READ_ONLY = {"sqlite_begin": "DEFERRED"}
WRITE = {"sqlite_begin": "IMMEDIATE"}


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so two writers queue (busy_timeout) instead
    # of one failing when it upgrades a read lock: SQLite's single-writer discipline. Readers
    # that never write ask for READ_ONLY (`.execution_options(**READ_ONLY)`) and never wait.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: URL | str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """An async engine with the settings Kerralla relies on for either database.

    `foreign_keys=False` is only for migrations on SQLite, which rebuild tables.
    """
    url = make_url(url)
    # A database error's text then never quotes the row's values (they may be personal data).
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(foreign_keys))
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions; on SQLite each takes the write lock when it begins (see _sqlite_begin), so
    never open one while another is open in the same task — or ask for READ_ONLY."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends normally, roll back when it raises.

    On SQLite it takes the write lock at its start (BEGIN IMMEDIATE): writers queue instead of
    failing when a read lock would have to be upgraded.
    """
    async with sessions() as session, session.begin():
        await session.connection(execution_options=WRITE)
        yield session


# Several processes may start at once against one PostgreSQL database: migrating and the
# first start's set-up run under this advisory lock, one process after another.
STARTUP_LOCK = 0x4B657272616C6C61  # "Kerralla" in ASCII


async def one_process_at_a_time(target: AsyncConnection | AsyncSession) -> None:
    """Wait for, and hold until this transaction ends, the start-up lock (PostgreSQL).

    On SQLite the write lock every transaction takes already lets one process in at a time.
    """
    connection = target if isinstance(target, AsyncConnection) else await target.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})


class DatabaseUnavailable(StartupError):
    """The database cannot be used; the message is one line for the person starting Kerralla."""


def describe_url(url: URL | str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def prepare_sqlite_folder(url: URL | str) -> list[Path]:
    """Make sure an SQLite file's folder exists and can be written; return what was created."""
    database = make_url(url).database
    if not is_sqlite(url) or database in (None, "", ":memory:"):
        return []
    folder = Path(database).resolve().parent
    created: list[Path] = []
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
    except OSError as exc:
        remove_created(created)
        raise DatabaseUnavailable(
            f"cannot create the data folder {folder} ({exc.strerror}): make it writable, "
            "or set DATABASE_URL to a file in a folder that is"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK) or (
        Path(database).exists() and not os.access(database, os.R_OK | os.W_OK)
    ):
        raise DatabaseUnavailable(
            f"cannot write the data folder {folder}: make it writable, "
            "or set DATABASE_URL to a file in a folder that is"
        )
    if not Path(database).exists():
        created.append(Path(database).resolve())
    return created


def remove_created(paths: list[Path]) -> None:
    """Undo `prepare_sqlite_folder` after a failed start, so nothing half-made stays behind."""
    for path in reversed(paths):
        if path.is_dir():
            with suppress(OSError):
                path.rmdir()
        else:
            for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                companion.unlink(missing_ok=True)


async def check_reachable(url: URL | str, timeout: float = 10.0) -> None:
    """Connect once and run `SELECT 1`, turning any failure into one readable line."""
    connect_args = {} if is_sqlite(url) else {"timeout": timeout}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(**READ_ONLY)
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # every driver fails differently; all of them mean "unusable"
        reason = getattr(exc, "orig", None) or exc
        detail = str(reason).strip().splitlines()[0] if str(reason).strip() else ""
        detail = detail or type(reason).__name__
        raise DatabaseUnavailable(
            f"cannot reach the database {describe_url(url)} ({detail[:160]}): check DATABASE_URL "
            "and that the database server is running"
        ) from None
    finally:
        await engine.dispose()
