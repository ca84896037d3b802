"""Messages to send after the commit that causes them.

The domain says *what* to tell *whom* — a message kind and its parameters — in the same
transaction as the change; the face renders the text in the recipient's language when it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from .db import transaction
from .errors import describe
from .heartbeats import Heartbeat
from .models import Channel, OutboxMessage, OutboxState, TelegramUser, utcnow

log = logging.getLogger(__name__)


async def tell(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    locale: str,
    *,
    now: datetime,
    meeting_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Queue a Telegram message, due `now`. With a `dedupe_key`, a second call queues nothing."""
    message = OutboxMessage(channel=Channel.TELEGRAM, telegram_chat_id=chat_id)
    return await _add(session, message, kind, locale, now, meeting_id, dedupe_key, params)


async def email(
    session: AsyncSession,
    address: str,
    kind: str,
    locale: str,
    *,
    now: datetime,
    meeting_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Queue an email, due `now`. With a `dedupe_key`, a second call queues nothing."""
    message = OutboxMessage(channel=Channel.EMAIL, email_to=address)
    return await _add(session, message, kind, locale, now, meeting_id, dedupe_key, params)


async def _add(
    session: AsyncSession,
    message: OutboxMessage,
    kind: str,
    locale: str,
    now: datetime,
    meeting_id: int | None,
    dedupe_key: str | None,
    params: dict[str, Any],
) -> OutboxMessage | None:
    if dedupe_key is not None:
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return None
    message.kind, message.locale, message.payload = kind, locale, params
    message.meeting_id, message.dedupe_key = meeting_id, dedupe_key
    # Due and stamped by the caller's clock, never the wall clock: a worker running as if it
    # were another time queues what that time's workers send (and retention counts from it).
    message.created_at = message.next_attempt_at = now
    session.add(message)
    await session.flush()
    return message


# -- sending: shared by every channel ----------------------------------------------------------

LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=5)
MAX_ATTEMPTS = 6


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """5 s, 10 s, 20 s, … (from `first`, doubling) at most ten minutes between tries."""
    return min(first * 2 ** max(attempts - 1, 0), timedelta(minutes=10))


@dataclass(frozen=True)
class Outcome:
    """What came of one try: sent, nothing left to say, failed for good, or try again."""

    sent: bool = False
    message_id: int | None = None
    cancelled: bool = False
    failed: str | None = None
    blocked: bool = False
    error: str | None = None
    retry_in: timedelta | None = None
    # False when the try never reached the recipient's side (asked to wait): not a try.
    counts: bool = True
    # True when nobody knows whether it arrived (the connection broke mid-try).
    uncertain: bool = False

    @classmethod
    def done(cls, message_id: int | None = None) -> Outcome:
        return cls(sent=True, message_id=message_id)

    @classmethod
    def nothing_to_say(cls) -> Outcome:
        return cls(cancelled=True)

    @classmethod
    def refused(cls, reason: str, *, blocked: bool = False) -> Outcome:
        return cls(failed=reason[:300], blocked=blocked)

    @classmethod
    def retry(
        cls, error: str, after: timedelta | None = None, *, uncertain: bool = False
    ) -> Outcome:
        return cls(error=error[:300], retry_in=after, uncertain=uncertain)

    @classmethod
    def later(cls, reason: str, after: timedelta) -> Outcome:
        """Asked to wait (a rate limit): sent again after `after`, and not counted as a try."""
        return cls(error=reason[:300], retry_in=after, counts=False)


UNSETTLED = (OutboxState.PENDING, OutboxState.SENDING)


def held_back(channel: Channel) -> Exists:
    """True for a row when an earlier row to the same recipient is not yet settled."""
    earlier = aliased(OutboxMessage)
    recipient, theirs = (
        (OutboxMessage.telegram_chat_id, earlier.telegram_chat_id)
        if channel == Channel.TELEGRAM
        else (OutboxMessage.email_to, earlier.email_to)
    )
    return exists().where(
        earlier.channel == channel,
        theirs == recipient,
        earlier.id < OutboxMessage.id,
        earlier.state.in_(UNSETTLED),
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    channel: Channel,
    now: datetime,
    batch: int,
    lease: timedelta = LEASE,
) -> list[int]:
    """Take due rows of a channel (and rows whose sender died mid-send, once their `lease`
    has run out) for one worker.

    Only the first unsettled row of each recipient is taken: a recipient's messages go out one
    at a time and in order, across every worker process, and a batch never holds two rows for
    one recipient (so its rows may be sent concurrently).
    """
    async with transaction(sessions) as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    and_(
                        OutboxMessage.channel == channel,
                        OutboxMessage.state.in_(UNSETTLED),
                        OutboxMessage.next_attempt_at <= now,
                    ),
                    ~held_back(channel),
                )
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            if row.state == OutboxState.SENDING:  # its sender died mid-send, perhaps after it
                row.maybe_repeated = True
            row.state = OutboxState.SENDING
            row.attempts += 1
            row.next_attempt_at = now + lease
        return [row.id for row in rows]


async def record(
    sessions: async_sessionmaker[AsyncSession],
    row_id: int,
    outcome: Outcome,
    now: datetime,
    then: Callable[[AsyncSession, OutboxMessage], Awaitable[None]] | None = None,
    first_retry: timedelta = FIRST_RETRY,
) -> OutboxMessage:
    """Write down what came of a try; the row as it is now. `then` runs in the same
    transaction (e.g. to queue the notice of a failure, which a crash then cannot lose)."""
    async with transaction(sessions) as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        if not outcome.counts:
            row.attempts = max(row.attempts - 1, 0)
        if outcome.uncertain:
            row.maybe_repeated = True
        give_up = outcome.failed is not None or (
            outcome.error is not None and outcome.counts and row.attempts >= MAX_ATTEMPTS
        )
        if outcome.cancelled:
            row.state = OutboxState.CANCELLED
        elif give_up:
            row.state = OutboxState.FAILED
            row.last_error = outcome.failed or outcome.error
            log.warning(
                "outbox message %s (%s) failed: %s",
                row.id,
                row.kind,
                (row.last_error or "").split(":")[0],
            )
            if outcome.blocked and row.telegram_chat_id is not None:
                user = await session.get(TelegramUser, row.telegram_chat_id)
                if user is not None:
                    user.blocked_bot_at = now
        elif outcome.error is not None:
            row.state = OutboxState.PENDING
            row.last_error = outcome.error
            row.next_attempt_at = now + (outcome.retry_in or retry_delay(row.attempts, first_retry))
        else:
            row.state = OutboxState.SENT
            row.sent_at = now
            row.telegram_message_id = outcome.message_id
        if then is not None:
            await then(session, row)
        return row


class OutboxWorker:
    """Drains one channel: claims due rows, `deliver`s each, records the outcome.

    Up to `concurrency` rows are in flight at once, each for a different recipient (see
    `claim`); a row's recipient has its next row claimed only once this one is settled.
    """

    channel: Channel
    # The name its heartbeat is recorded under (scheduling.heartbeats), e.g. "delivery".
    worker_name = "outbox"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 20,
        idle_seconds: float = 1.0,
        concurrency: int = 1,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = LEASE,
        first_retry: timedelta = FIRST_RETRY,
    ) -> None:
        self.sessions = sessions
        self.lease, self.first_retry = lease, first_retry
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.concurrency = max(concurrency, 1)
        self.clock = clock
        self.heartbeat = Heartbeat(sessions, self.worker_name, clock=clock)

    async def deliver(self, row_id: int) -> Outcome:
        raise NotImplementedError

    async def after(self, session: AsyncSession, row: OutboxMessage) -> None:
        """What to do once a try is recorded (e.g. tell the convener of a failure), in the
        transaction that records it."""

    async def handle(self, row_id: int) -> None:
        """One claimed row: deliver it and record what came of it."""
        try:
            outcome = await self.deliver(row_id)
        except Exception as exc:  # one broken message must not stop the others
            log.error("delivering outbox message %s failed: %s", row_id, describe(exc))
            outcome = Outcome.retry(describe(exc))
        try:
            await record(self.sessions, row_id, outcome, self.clock(), self.after, self.first_retry)
        except Exception as exc:  # the database is away: the lease runs out, and it is retried
            log.error("outbox message %s: the outcome was not recorded: %s", row_id, describe(exc))

    async def run_once(self) -> int:
        """Send everything due now (a recipient's rows one after another); how many tries."""
        handled = 0
        limit = asyncio.Semaphore(self.concurrency)

        async def one(row_id: int) -> None:
            async with limit:
                await self.handle(row_id)

        while claimed := await claim(
            self.sessions, self.channel, self.clock(), self.batch_size, self.lease
        ):
            await asyncio.gather(*(one(row_id) for row_id in claimed))
            handled += len(claimed)
        return handled

    async def run_until(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Send until `stop` is set, then finish the rows in hand.

        Claims whenever a place is free, so that a slow recipient never holds up the others;
        between claims waits for a row to be settled, for `wake`, or a moment.
        """
        wake = wake or asyncio.Event()
        in_flight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            await self.heartbeat()
            wake.clear()
            wanted = min(self.batch_size, self.concurrency - len(in_flight))
            claimed: list[int] = []
            if wanted > 0:
                try:
                    claimed = await claim(
                        self.sessions, self.channel, self.clock(), wanted, self.lease
                    )
                except Exception as exc:  # the database may be away for a moment
                    log.error("the outbox could not be drained: %s", describe(exc))
            for row_id in claimed:
                task = asyncio.create_task(self.handle(row_id))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if claimed and len(claimed) == wanted and len(in_flight) < self.concurrency:
                continue  # more may be due, and there is room for them
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait([*waiters, *in_flight], return_when=asyncio.FIRST_COMPLETED),
                    self.idle_seconds,
                )
            for waiter in waiters:
                waiter.cancel()
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
