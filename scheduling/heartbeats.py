"""Workers' signs of life, kept in the database.

Every worker loop (Telegram delivery, email delivery, timed jobs) writes a heartbeat row every
few seconds, so that the health check of any process sees the workers of all of them
(`scheduling.health`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import transaction
from .errors import describe
from .models import WorkerHeartbeat, utcnow

log = logging.getLogger(__name__)

BEAT_EVERY = timedelta(seconds=10)
FORGET_AFTER = timedelta(days=1)
# This process, as its heartbeats name it: containers may share a host name and a pid.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[-120:]


async def beat(
    sessions: async_sessionmaker[AsyncSession], worker: str, now: datetime, process: str = PROCESS
) -> None:
    """Record that `worker` of `process` is alive now; forget processes silent for a day."""
    async with transaction(sessions) as session:
        row = await session.scalar(
            select(WorkerHeartbeat).where(
                WorkerHeartbeat.worker == worker, WorkerHeartbeat.process == process
            )
        )
        if row is None:
            session.add(
                WorkerHeartbeat(worker=worker, process=process, started_at=now, beat_at=now)
            )
        else:
            row.beat_at = now
        await session.execute(
            delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER)
        )


class Heartbeat:
    """Call it from a worker's loop: it writes a heartbeat when the last is `every` old.

    A database that is away for a moment is logged, never raised: the worker goes on.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        worker: str,
        *,
        every: timedelta = BEAT_EVERY,
        process: str = PROCESS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions, self.worker, self.every, self.process = sessions, worker, every, process
        self.clock = clock
        self.last: datetime | None = None

    async def __call__(self) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        try:
            await beat(self.sessions, self.worker, now, self.process)
        except Exception as exc:  # the database may be away: the health check will say so
            log.warning(
                "the %s worker's heartbeat was not recorded: %s", self.worker, describe(exc)
            )
