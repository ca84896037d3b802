"""Due-job pickup: how long a worker takes to claim and finish one batch of due jobs when
1,000 or 100,000 jobs are pending, on SQLite and on PostgreSQL.

`.venv/bin/python -m bench.jobs` prints a table; `run()` gives the figures to bench/__main__.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from scheduling import schema
from scheduling.config import load_settings
from scheduling.db import DatabaseUnavailable, check_reachable, create_engine, session_factory
from scheduling.jobs import HANDLERS, JobContext, JobWorker
from scheduling.models import Job
from tests.databases import create_postgres_database, drop_postgres_database
from tests.postgres_available import postgres_url

SIZES = (1_000, 100_000)
BATCH = 50
ROUNDS = 15


async def noop(session: object, job: Job, context: JobContext) -> None:
    return None


async def pickup_ms(url: str, pending: int) -> float:
    """Median milliseconds for one batch of BATCH jobs, with `pending` due jobs waiting."""
    await schema.upgrade(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    common = {"kind": "bench.noop", "payload": {}, "state": "pending", "attempts": 0,
              "max_attempts": 5, "created_at": now, "updated_at": now}  # fmt: skip
    rows = [{**common, "due_at": now - timedelta(seconds=n)} for n in range(pending)]
    async with engine.begin() as connection:
        for start in range(0, pending, 10_000):
            await connection.execute(insert(Job), rows[start : start + 10_000])
    worker = JobWorker(session_factory(engine), load_settings(_env_file=None), batch_size=BATCH)
    await worker.run_once()  # warm up
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        assert await worker.run_once() == BATCH
        timings.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return statistics.median(timings)


def run() -> dict[str, dict[str, float | str]]:
    HANDLERS["bench.noop"] = noop
    results: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            url = f"sqlite+aiosqlite:///{Path(folder) / f'bench-{size}.db'}"
            value = asyncio.run(pickup_ms(url, size))
            results[f"job_pickup_sqlite_{size}_ms"] = {"value": round(value, 2), "unit": "ms"}
    try:
        asyncio.run(check_reachable(postgres_url(), timeout=5))
    except DatabaseUnavailable:
        print("PostgreSQL is not reachable: its job pickup was not measured")
        return results
    for size in SIZES:
        name = f"kerralla_bench_jobs_{size}"
        url = create_postgres_database(name)
        try:
            value = asyncio.run(pickup_ms(url, size))
        finally:
            drop_postgres_database(name)
        results[f"job_pickup_postgresql_{size}_ms"] = {"value": round(value, 2), "unit": "ms"}
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:40} {figure['value']:10.2f} {figure['unit']}")
