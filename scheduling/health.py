"""Is Kerralla well? The report behind `GET /healthz`.

The workers' heartbeats (`scheduling.heartbeats`), and the backlogs: messages and jobs that are
due and not yet handled, how long the oldest has waited, and how many failed for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Channel, Job, JobState, OutboxMessage, OutboxState, WorkerHeartbeat
from .outbox import UNSETTLED, held_back

# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """When the health check fails: a worker silent for `worker_silent`, or something due
    and not handled for `stuck_after`."""

    stuck_after: timedelta = timedelta(minutes=10)
    worker_silent: timedelta = timedelta(minutes=2)


def _age(now: datetime, since: datetime | None) -> float:
    return round(max((now - since).total_seconds(), 0.0), 1) if since is not None else 0.0


async def workers_report(
    session: AsyncSession, now: datetime, expected: Iterable[str], silent: timedelta
) -> dict[str, dict[str, Any]]:
    rows = (
        await session.execute(
            select(
                WorkerHeartbeat.worker,
                func.max(WorkerHeartbeat.beat_at),
                func.count().filter(WorkerHeartbeat.beat_at >= now - silent),
            ).group_by(WorkerHeartbeat.worker)
        )
    ).all()
    seen = {worker: (last, alive) for worker, last, alive in rows}
    report: dict[str, dict[str, Any]] = {}
    for worker in sorted({*expected, *seen}):
        last, alive = seen.get(worker, (None, 0))
        report[worker] = {
            "alive": bool(alive),
            "processes": int(alive),
            "last_heartbeat": last.isoformat() if last is not None else None,
            "seconds_since": _age(now, last) if last is not None else None,
        }
    return report


async def outbox_report(session: AsyncSession, channel: Channel, now: datetime) -> dict[str, Any]:
    """Rows ready to send now (not held behind an earlier one to the same recipient), the
    oldest one's wait, rows waiting for another try, and rows that failed for good."""
    due, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
                and_(
                    OutboxMessage.channel == channel,
                    OutboxMessage.state.in_(UNSETTLED),
                    OutboxMessage.next_attempt_at <= now,
                ),
                ~held_back(channel),
            )
        )
    ).one()
    counts = dict(
        (
            await session.execute(
                select(OutboxMessage.state, func.count())
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.FAILED]),
                )
                .group_by(OutboxMessage.state)
            )
        ).all()
    )
    repeated = await session.scalar(
        select(func.count()).where(
            OutboxMessage.channel == channel,
            OutboxMessage.state == OutboxState.SENT,
            OutboxMessage.maybe_repeated.is_(True),
        )
    )
    return {
        "due": int(due),
        "oldest_due_seconds": _age(now, oldest),
        "pending": int(counts.get(OutboxState.PENDING, 0)),
        "failed": int(counts.get(OutboxState.FAILED, 0)),
        # Sent after a try whose outcome was never known: may have arrived twice.
        "maybe_repeated": int(repeated or 0),
    }


async def jobs_report(session: AsyncSession, now: datetime) -> dict[str, Any]:
    due, oldest = (
        await session.execute(
            select(func.count(), func.min(Job.due_at)).where(
                Job.state == JobState.PENDING, Job.due_at <= now
            )
        )
    ).one()
    failed = await session.scalar(
        select(func.count()).select_from(Job).where(Job.state == JobState.FAILED)
    )
    return {"due": int(due), "oldest_due_seconds": _age(now, oldest), "failed": int(failed or 0)}


async def report(
    session: AsyncSession,
    now: datetime,
    *,
    expected_workers: Iterable[str],
    thresholds: Thresholds = Thresholds(),
) -> dict[str, Any]:
    """What `/healthz` shows when the database answers, with `problems` (empty when well)."""
    workers = await workers_report(session, now, expected_workers, thresholds.worker_silent)
    outbox = {
        channel.value: await outbox_report(session, channel, now)
        for channel in (Channel.TELEGRAM, Channel.EMAIL)
    }
    jobs = await jobs_report(session, now)
    stuck = thresholds.stuck_after.total_seconds()
    problems = [
        f"{name} worker not alive" for name in expected_workers if not workers[name]["alive"]
    ]
    problems += [
        f"{channel} outbox stuck"
        for channel, backlog in outbox.items()
        if backlog["oldest_due_seconds"] > stuck
    ]
    if jobs["oldest_due_seconds"] > stuck:
        problems.append("jobs stuck")
    return {"problems": problems, "workers": workers, "outbox": outbox, "jobs": jobs}
