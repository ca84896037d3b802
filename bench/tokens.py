"""Secret-link lookup: how long `tokens.find` takes for a link that is valid, unknown, nearly
right (one character off), expired, revoked or for another purpose, among 10,000 stored links,
on SQLite and on PostgreSQL. The ones that are not valid should cost the same.

`.venv/bin/python -m bench.tokens` prints a table; `run()` gives the figures to bench/__main__.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from scheduling import schema, tokens
from scheduling.db import (
    READ_ONLY,
    DatabaseUnavailable,
    check_reachable,
    create_engine,
    session_factory,
)
from scheduling.models import AccessToken, TokenPurpose
from tests.databases import create_postgres_database, drop_postgres_database
from tests.postgres_available import postgres_url

STORED = 10_000
ROUNDS = 2_000
FAMILY = TokenPurpose.FAMILY_FORM


def secret() -> str:
    return secrets.token_urlsafe(tokens.TOKEN_BYTES)


async def lookup_us(url: str) -> dict[str, float]:
    """Median microseconds of one lookup, per kind of link."""
    await schema.upgrade(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    links = {kind: secret() for kind in ("valid", "expired", "revoked", "other purpose")}
    rows = [
        {"token_hash": tokens.token_hash(secret()), "purpose": FAMILY, "created_at": now,
         "expires_at": now + timedelta(days=30), "revoked_at": None}
        for _ in range(STORED - len(links))
    ]  # fmt: skip
    for kind, token in links.items():
        rows.append(
            {
                "token_hash": tokens.token_hash(token),
                "purpose": TokenPurpose.CALENDAR_FEED if kind == "other purpose" else FAMILY,
                "created_at": now,
                "expires_at": now + timedelta(days=-1 if kind == "expired" else 30),
                "revoked_at": now if kind == "revoked" else None,
            }
        )
    async with engine.begin() as connection:
        await connection.execute(insert(AccessToken), rows)
    valid = links["valid"]
    links["unknown"] = secret()
    links["near miss"] = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    timings: dict[str, list[float]] = {kind: [] for kind in links}
    async with session_factory(engine)() as session:
        await session.connection(execution_options=READ_ONLY)
        order = list(links.items())
        for _ in range(ROUNDS):
            random.shuffle(order)  # no kind always follows another
            for kind, token in order:
                started = time.perf_counter()
                found = await tokens.find(session, token, now, FAMILY)
                timings[kind].append((time.perf_counter() - started) * 1e6)
                assert (found is not None) == (kind == "valid")
                session.expunge_all()
    await engine.dispose()
    return {kind: statistics.median(values) for kind, values in timings.items()}


def run() -> dict[str, dict[str, float | str]]:
    results: dict[str, dict[str, float | str]] = {}

    def add(database: str, figures: dict[str, float]) -> None:
        for kind, value in figures.items():
            name = f"token_lookup_{database}_{kind.replace(' ', '_')}_us"
            results[name] = {"value": round(value, 1), "unit": "µs"}

    with tempfile.TemporaryDirectory() as folder:
        add("sqlite", asyncio.run(lookup_us(f"sqlite+aiosqlite:///{Path(folder) / 'b.db'}")))
    try:
        asyncio.run(check_reachable(postgres_url(), timeout=3))
    except DatabaseUnavailable:
        print("PostgreSQL not reachable: its token figures are skipped")
        return results
    url = create_postgres_database("kerralla_bench_tokens")
    try:
        add("postgresql", asyncio.run(lookup_us(url)))
    finally:
        drop_postgres_database("kerralla_bench_tokens")
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:44} {figure['value']:>10}  {figure['unit']}")
