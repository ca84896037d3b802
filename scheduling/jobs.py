"""Durable timed jobs: reminders, deadlines, summaries, clean-up — rows, not memory.

A job is a row with a due time, a kind and a payload. A worker claims due jobs and runs each
one inside the same database transaction that marks it done, so a job's effects (outbox rows,
deletions) and its completion are committed together or not at all:

- PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` — several workers take disjoint batches.
- SQLite: every transaction begins IMMEDIATE, so one writer at a time holds the batch.

A worker killed mid-batch commits nothing of that batch; its jobs are due again at once and the
next worker runs them, so every job's effects happen exactly once. A failing job is retried
with backoff in a savepoint (the rest of the batch goes on) and marked failed after
`max_attempts`, logged, and listed by `kerralla admin jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .config import Settings
from .db import transaction
from .errors import describe
from .heartbeats import Heartbeat
from .models import Job, JobState, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a handler may use besides the session: the settings and the worker's clock."""

    settings: Settings
    now: datetime


class Skip(Exception):
    """Raised by a handler when the job no longer makes sense (the meeting began, or was
    cancelled): the job is done, nothing was sent, and the reason is kept in its `note`."""


Handler = Callable[[AsyncSession, Job, JobContext], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … at most one hour between tries."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# -- scheduling ------------------------------------------------------------------------------


async def schedule(
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    *,
    payload: dict[str, Any] | None = None,
    meeting_id: int | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job, or with a `dedupe_key` move the one already there to this time.

    A moved job that already ran (or was cancelled) is armed again, so moving a meeting
    reminds people again for the new time.
    """
    job = None
    if dedupe_key is not None:
        job = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
    if job is None:
        job = Job(kind=kind, dedupe_key=dedupe_key, meeting_id=meeting_id)
        session.add(job)
    elif job.state in {JobState.PENDING, JobState.FAILED} or job.due_at != due_at:
        job.state = JobState.PENDING
    else:
        return job  # already done for this very time
    job.due_at = due_at
    job.payload = payload or {}
    job.max_attempts = max_attempts
    job.attempts = 0
    job.last_error = job.note = job.finished_at = None
    await session.flush()
    return job


async def cancel_meeting_jobs(session: AsyncSession, meeting_id: int, now: datetime) -> int:
    """Cancel every job of a meeting that has not run yet; returns how many."""
    result = await session.execute(
        update(Job)
        .where(Job.meeting_id == meeting_id, Job.state == JobState.PENDING)
        .values(state=JobState.CANCELLED, finished_at=now, note="meeting cancelled")
    )
    return result.rowcount or 0


# -- running ---------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        name: str | None = None,
        batch_size: int = 50,
        idle_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        after_batch: Callable[[], object] | None = None,
    ) -> None:
        self.sessions = sessions
        self.after_batch = after_batch
        self.settings = settings
        self.name = name or worker_name()
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.heartbeat = Heartbeat(sessions, "jobs", clock=clock)

    async def run_once(self) -> int:
        """Claim one batch of due jobs and run it; the number of jobs handled."""
        now = self.clock()
        async with transaction(self.sessions) as session:
            jobs = (
                await session.scalars(
                    select(Job)
                    .where(Job.state == JobState.PENDING, Job.due_at <= now)
                    .order_by(Job.due_at, Job.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for job in jobs:
                await self._run(session, job, JobContext(self.settings, now))
        if jobs and self.after_batch is not None:
            self.after_batch()
        return len(jobs)

    async def _run(self, session: AsyncSession, job: Job, context: JobContext) -> None:
        job.attempts += 1
        job.worker = self.name
        handler = HANDLERS.get(job.kind)
        if handler is None:  # a kind this version does not know: no use trying again
            job.state, job.finished_at = JobState.FAILED, context.now
            job.last_error = f"no handler for job kind {job.kind!r}"
            log.error("job %s has a kind no handler knows: %s", job.id, job.kind)
            return
        try:
            async with session.begin_nested():
                await handler(session, job, context)
        except Skip as skipped:
            await session.refresh(job)  # the savepoint's rollback expired it
            job.note = str(skipped)[:200]
        except Exception as exc:  # a job's failure must not stop the batch
            await session.refresh(job)
            job.last_error = describe(exc)
            if job.attempts >= job.max_attempts:
                job.state = JobState.FAILED
                job.finished_at = context.now
                log.error(
                    "job %s (%s) failed for good after %s tries: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    type(exc).__name__,
                )
            else:
                job.due_at = context.now + backoff(job.attempts)
                log.warning(
                    "job %s (%s) failed (try %s), retrying: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    type(exc).__name__,
                )
            return
        job.state = JobState.DONE
        job.finished_at = context.now

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run batches until `stop` is set; sleep a little when nothing is due."""
        while not stop.is_set():
            await self.heartbeat()
            try:
                handled = await self.run_once()
            except Exception as exc:  # the database may be away for a moment: try again later
                log.error("the job worker could not run a batch: %s", describe(exc))
                handled = 0
            # A short breath even after a full batch lets other writers in (SQLite has one).
            pause = self.idle_seconds if handled < self.batch_size else 0.01
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
