"""A real job worker process for the fault tests, with one extra job kind, `test.probe`.

`python -m tests.job_worker_process DATABASE_URL NAME [SLEEP_SECONDS]` runs Kerralla's JobWorker
until SIGTERM. Each probe job writes one row into `probe_runs` (a table the test makes) in the
job's own transaction, so a row per job id is a run whose effects were committed.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from sqlalchemy import text

from scheduling.config import load_settings
from scheduling.db import create_engine, session_factory
from scheduling.jobs import HANDLERS, JobWorker

PROBE_TABLE = "CREATE TABLE probe_runs (job_id INTEGER NOT NULL, worker VARCHAR(100) NOT NULL)"


async def main(url: str, name: str, pause: float) -> None:
    async def probe(session, job, context) -> None:  # type: ignore[no-untyped-def]
        await session.execute(
            text("INSERT INTO probe_runs (job_id, worker) VALUES (:job, :worker)"),
            {"job": job.id, "worker": name},
        )
        await asyncio.sleep(pause)

    HANDLERS["test.probe"] = probe
    engine = create_engine(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    worker = JobWorker(
        session_factory(engine),
        load_settings(_env_file=None, database_url=url),
        name=name,
        batch_size=25,
        idle_seconds=0.05,
    )
    print("ready", flush=True)
    await worker.run_until(stop)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0))
