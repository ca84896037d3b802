"""Durable jobs: run when due, retried, failed for good, moved, cancelled, and exactly once
across crashes and several workers."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.config import load_settings
from scheduling.db import READ_ONLY, create_engine, session_factory
from scheduling.jobs import HANDLERS, JobContext, JobWorker, Skip, cancel_meeting_jobs, schedule
from scheduling.models import Job, JobState

from .job_worker_process import PROBE_TABLE

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def calls() -> Iterator[list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []

    async def ok(session: AsyncSession, job: Job, context: JobContext) -> None:
        seen.append(("ok", job.id))

    async def broken(session: AsyncSession, job: Job, context: JobContext) -> None:
        seen.append(("broken", job.id))
        job.payload = {"half": "done"}  # changes inside a failed job are rolled back
        raise RuntimeError("the handler broke")

    async def pointless(session: AsyncSession, job: Job, context: JobContext) -> None:
        raise Skip("the meeting had begun")

    HANDLERS.update({"test.ok": ok, "test.broken": broken, "test.pointless": pointless})
    yield seen
    for kind in ("test.ok", "test.broken", "test.pointless"):
        HANDLERS.pop(kind)


def worker(sessions: Sessions, at: datetime, **kwargs: object) -> JobWorker:
    settings = load_settings(_env_file=None)
    return JobWorker(sessions, settings, name="w1", clock=lambda: at, **kwargs)  # type: ignore[arg-type]


async def jobs(sessions: Sessions) -> dict[str, Job]:
    async with sessions() as session:
        rows = (await session.scalars(select(Job).order_by(Job.id))).all()
    return {row.dedupe_key or str(row.id): row for row in rows}


async def test_due_jobs_run_once_and_later_ones_wait(sessions: Sessions, calls: list) -> None:
    async with sessions() as session, session.begin():
        await schedule(session, "test.ok", NOW - timedelta(hours=5), dedupe_key="overdue")
        await schedule(session, "test.ok", NOW, dedupe_key="now")
        await schedule(session, "test.ok", NOW + timedelta(seconds=1), dedupe_key="later")
    assert await worker(sessions, NOW).run_once() == 2
    assert await worker(sessions, NOW).run_once() == 0
    rows = await jobs(sessions)
    assert [c[1] for c in calls] == [rows["overdue"].id, rows["now"].id]
    assert rows["overdue"].state == rows["now"].state == JobState.DONE
    assert rows["now"].worker == "w1" and rows["now"].finished_at == NOW
    assert rows["later"].state == JobState.PENDING
    assert await worker(sessions, NOW + timedelta(seconds=1)).run_once() == 1


async def test_a_failing_job_is_retried_with_backoff_then_fails(
    sessions: Sessions, calls: list, caplog: pytest.LogCaptureFixture
) -> None:
    async with sessions() as session, session.begin():
        await schedule(session, "test.broken", NOW, dedupe_key="broken", max_attempts=3)
        await schedule(session, "test.ok", NOW, dedupe_key="fine")
    at = NOW
    assert await worker(sessions, at).run_once() == 2
    row = (await jobs(sessions))["broken"]
    assert (row.state, row.attempts) == (JobState.PENDING, 1)
    assert row.due_at == NOW + timedelta(seconds=30)
    # The kind and place of the failure, never its message (which may quote personal data).
    assert row.last_error.startswith("RuntimeError at test_jobs.py:")
    assert row.payload == {}
    assert (await jobs(sessions))["fine"].state == JobState.DONE  # the batch went on
    # Not again before the backoff has passed.
    assert await worker(sessions, NOW + timedelta(seconds=29)).run_once() == 0
    await worker(sessions, NOW + timedelta(seconds=30)).run_once()
    row = (await jobs(sessions))["broken"]
    assert (row.attempts, row.due_at) == (2, NOW + timedelta(seconds=90))
    await worker(sessions, NOW + timedelta(seconds=90)).run_once()
    row = (await jobs(sessions))["broken"]
    assert (row.state, row.attempts) == (JobState.FAILED, 3)
    assert await worker(sessions, NOW + timedelta(days=1)).run_once() == 0
    assert [kind for kind, _ in calls].count("broken") == 3
    assert "failed for good after 3 tries: RuntimeError" in caplog.text


async def test_an_unknown_kind_fails_and_a_skipped_job_is_done(
    sessions: Sessions, calls: list
) -> None:
    async with sessions() as session, session.begin():
        await schedule(session, "test.pointless", NOW, dedupe_key="skip")
        await schedule(session, "no.such.kind", NOW, dedupe_key="unknown", max_attempts=1)
    await worker(sessions, NOW).run_once()
    rows = await jobs(sessions)
    assert (rows["skip"].state, rows["skip"].note) == (JobState.DONE, "the meeting had begun")
    assert rows["unknown"].state == JobState.FAILED
    assert "no handler for job kind 'no.such.kind'" in (rows["unknown"].last_error or "")


async def test_moving_rearms_and_cancelling_stops(sessions: Sessions, calls: list) -> None:
    from . import factories as f

    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=9001)
        meeting = await f.meeting(session, convener, await f.meeting_type(session))
        await schedule(session, "test.ok", NOW, dedupe_key="r1", meeting_id=meeting.id)
        await schedule(
            session, "test.ok", NOW + timedelta(days=1), dedupe_key="r2", meeting_id=meeting.id
        )
    await worker(sessions, NOW).run_once()
    assert (await jobs(sessions))["r1"].state == JobState.DONE
    async with sessions() as session, session.begin():
        # Scheduling again for the same time changes nothing; a new time arms it again.
        await schedule(session, "test.ok", NOW, dedupe_key="r1", meeting_id=meeting.id)
    assert (await jobs(sessions))["r1"].state == JobState.DONE
    async with sessions() as session, session.begin():
        await schedule(
            session, "test.ok", NOW + timedelta(hours=2), dedupe_key="r1", meeting_id=meeting.id
        )
    rows = await jobs(sessions)
    assert (rows["r1"].state, rows["r1"].due_at) == (JobState.PENDING, NOW + timedelta(hours=2))
    async with sessions() as session, session.begin():
        assert await cancel_meeting_jobs(session, meeting.id, NOW) == 2
    assert await worker(sessions, NOW + timedelta(days=2)).run_once() == 0
    assert {r.state for r in (await jobs(sessions)).values()} == {JobState.CANCELLED}
    assert len(calls) == 1


async def test_two_workers_never_run_a_job_twice(database_url: str, calls: list) -> None:
    engines = [create_engine(database_url) for _ in range(2)]
    sessions = [session_factory(e) for e in engines]
    async with sessions[0]() as session, session.begin():
        for n in range(300):
            await schedule(session, "test.ok", NOW - timedelta(seconds=n))
    workers = [worker(s, NOW, batch_size=20) for s in sessions]

    async def drain(w: JobWorker) -> None:
        handled = 1
        while handled:
            handled = await w.run_once()

    await asyncio.gather(*(drain(w) for w in workers))
    for engine in engines:
        await engine.dispose()
    ran = [job_id for _, job_id in calls]
    assert len(ran) == len(set(ran)) == 300


# -- real processes ----------------------------------------------------------------------------


async def add_probe_jobs(url: str, count: int) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        # PostgreSQL's test database outlives a test; only the model's tables are emptied.
        await connection.execute(text("DROP TABLE IF EXISTS probe_runs"))
        await connection.execute(text(PROBE_TABLE))
    async with session_factory(engine)() as session, session.begin():
        now = datetime.now(UTC)
        session.add_all(
            Job(kind="test.probe", due_at=now - timedelta(milliseconds=n)) for n in range(count)
        )
    await engine.dispose()


async def start_worker(url: str, name: str, pause: float) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.job_worker_process",
        url,
        name,
        str(pause),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert (await asyncio.wait_for(process.stdout.readline(), 30)).strip() == b"ready"
    return process


async def probe_counts(url: str) -> tuple[list[tuple[int, int]], dict[str, int], int]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.execution_options(**READ_ONLY)
        runs = (
            await connection.execute(
                text("SELECT job_id, count(*) FROM probe_runs GROUP BY job_id")
            )
        ).all()
        workers = dict(
            (
                await connection.execute(
                    text("SELECT worker, count(*) FROM probe_runs GROUP BY worker")
                )
            ).all()
        )
        pending = await connection.scalar(
            select(func.count()).select_from(Job).where(Job.state != JobState.DONE)
        )
    await engine.dispose()
    return [tuple(r) for r in runs], workers, pending


async def wait_until_done(url: str, count: int, timeout: float = 60) -> None:
    for _ in range(int(timeout * 10)):
        runs, _, pending = await probe_counts(url)
        if pending == 0 and len(runs) == count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"jobs left after {timeout} s: {pending}")


async def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(database_url: str) -> None:
    await add_probe_jobs(database_url, 400)
    first = await start_worker(database_url, "first", pause=0.004)
    # Let it commit a few batches, then kill it in the middle of one.
    for _ in range(300):
        runs, _, _ = await probe_counts(database_url)
        if len(runs) >= 60:
            break
        await asyncio.sleep(0.02)
    first.kill()  # SIGKILL: no chance to finish or clean up
    await first.wait()
    killed_at = len((await probe_counts(database_url))[0])
    assert 0 < killed_at < 400

    second = await start_worker(database_url, "second", pause=0)
    await wait_until_done(database_url, 400)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 20) == 0

    runs, workers, pending = await probe_counts(database_url)
    assert pending == 0
    assert len(runs) == 400 and all(count == 1 for _, count in runs)
    assert workers["first"] == killed_at and workers["second"] == 400 - killed_at


async def test_two_worker_processes_share_2000_jobs(database_url: str, db_kind: str) -> None:
    if db_kind != "postgresql":
        pytest.skip("several workers on one database is the PostgreSQL deployment")
    await add_probe_jobs(database_url, 2000)
    processes = [await start_worker(database_url, name, pause=0.001) for name in ("a", "b")]
    await wait_until_done(database_url, 2000)
    for process in processes:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    runs, workers, pending = await probe_counts(database_url)
    assert pending == 0
    assert len(runs) == 2000 and all(count == 1 for _, count in runs)
    assert workers["a"] > 0 and workers["b"] > 0 and workers["a"] + workers["b"] == 2000
