"""Re-encrypting every sealed value under the first key of DATA_KEY, a little at a time.

A sealed column is a `LargeBinary` column whose name ends in `_encrypted`; they are found from
the models, so a column added later is rotated too. Each batch is one short transaction, so the
service keeps running meanwhile (on SQLite it holds the write lock for one batch only). A value
already under the first key is left alone, so running again, or after an interruption, only
does what is left. A value changed by the service between reading and writing is not
overwritten: the service seals with the first key already.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .config import Settings, parse_data_keys
from .crypto import sealer
from .db import transaction
from .models import AccessChannel, ActorKind, AuditEvent, Base

SEALED_SUFFIX = "_encrypted"
BATCH = 200


@dataclass
class TableRotation:
    """What one run did to one table, counted in rows."""

    table: str
    columns: tuple[str, ...]
    rotated: int = 0  # rows with at least one value re-encrypted under the first key
    current: int = 0  # rows whose values were all under the first key already
    unreadable: int = 0  # rows with a value that no key in DATA_KEY opens (left as it was)


def sealed_columns() -> list[tuple[sa.Table, list[sa.Column[bytes]]]]:
    """Every table with sealed columns, and those columns, in a stable order."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [
            column
            for column in table.columns
            if isinstance(column.type, sa.LargeBinary) and column.name.endswith(SEALED_SUFFIX)
        ]
        if columns:
            if len(table.primary_key.columns) != 1:
                raise RuntimeError(f"{table.name}: sealed rows need a one-column primary key")
            found.append((table, columns))
    return found


def _under(key: Fernet, token: bytes) -> bool:
    try:
        key.extract_timestamp(token)  # checks the token's HMAC with this key only
    except InvalidToken:
        return False
    return True


async def _batch(
    session: AsyncSession,
    table: sa.Table,
    columns: list[sa.Column[bytes]],
    after: object,
    size: int,
    settings: Settings,
    tally: TableRotation,
) -> object | None:
    """Rotate one batch of rows after the key `after`; the last key seen, None at the end."""
    ring = sealer(settings)
    first = Fernet(parse_data_keys(_data_key(settings))[0])
    (key,) = table.primary_key.columns
    query = (
        sa.select(key, *columns)
        .where(sa.or_(*(column.is_not(None) for column in columns)))
        .order_by(key)
        .limit(size)
    )
    if after is not None:
        query = query.where(key > after)
    rows = (await session.execute(query)).all()
    for row in rows:
        changes: dict[str, bytes] = {}
        unchanged: list[sa.ColumnElement[bool]] = []
        unreadable = False
        for column, value in zip(columns, row[1:], strict=True):
            if value is None or _under(first, value):
                continue
            try:
                changes[column.name] = ring.rotate(value)
            except InvalidToken:
                unreadable = True
                continue
            unchanged.append(column == value)
        if unreadable:
            tally.unreadable += 1
        if not changes:
            tally.current += 0 if unreadable else 1
            continue
        result = await session.execute(
            sa.update(table).where(key == row[0], *unchanged).values(**changes)
        )
        # No row: the service changed (and so sealed anew) the value meanwhile.
        if result.rowcount:
            tally.rotated += 1
        elif not unreadable:
            tally.current += 1
    return rows[-1][0] if rows else None


def _data_key(settings: Settings) -> str:
    if settings.data_key is None:
        raise RuntimeError("DATA_KEY is not set")
    return settings.data_key.get_secret_value()


async def rotate(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    *,
    batch_size: int = BATCH,
    pause: float = 0.01,
) -> list[TableRotation]:
    """Re-encrypt every sealed value under DATA_KEY's first key; what was done, per table.

    Batches of `batch_size` rows, each in its own transaction, with `pause` seconds between
    them so the service's own writes get their turn. The run is audited (counts only).
    """
    tallies = []
    for table, columns in sealed_columns():
        tally = TableRotation(table.name, tuple(c.name for c in columns))
        after: object | None = None
        while True:
            async with transaction(sessions) as session:
                after = await _batch(session, table, columns, after, batch_size, settings, tally)
            if after is None:
                break
            await asyncio.sleep(pause)
        tallies.append(tally)
    async with transaction(sessions) as session:
        session.add(
            AuditEvent(
                occurred_at=now,
                actor_kind=ActorKind.ADMINISTRATOR,
                action="data_key.rotate",
                object_type="database",
                channel=AccessChannel.CLI,
                details={
                    t.table: {"rotated": t.rotated, "unreadable": t.unreadable} for t in tallies
                },
            )
        )
    return tallies


def report(tallies: list[TableRotation]) -> tuple[list[str], bool]:
    """The operator's lines (English), and whether every value is now under the first key."""
    lines = []
    width = max((len(t.table) for t in tallies), default=0)
    for t in tallies:
        line = (
            f"{t.table:<{width}}  {t.rotated} re-encrypted, {t.current} already under the new key"
        )
        if t.unreadable:
            line += f", {t.unreadable} NOT READABLE with any key in DATA_KEY"
        lines.append(line)
    complete = not any(t.unreadable for t in tallies)
    if complete:
        lines += [
            "Every sealed value is now under the first key in DATA_KEY.",
            "Now remove the old key(s) from DATA_KEY, leaving only the first, and restart every "
            "kerralla run and kerralla worker process.",
            "Keep a copy of the old key, offline, until the backups made before today are gone.",
        ]
    else:
        lines += [
            "Some values could not be read with any key in DATA_KEY and were left as they were.",
            "Do NOT remove any key yet: add the key those values were sealed with to DATA_KEY "
            "(after the first) and run kerralla admin rotate-key again.",
        ]
    return lines, complete
