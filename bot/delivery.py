"""Drains the outbox into the Bot API: each message rendered in its recipient's language.

Two short transactions around each send, never one held across the network: a worker claims
due rows (marking them SENDING with a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL), sends
them, then records the outcome — sent with the Telegram message id, or retried with backoff,
or failed for good (a blocked bot, a refused message, too many tries). A row whose worker died
mid-send is claimed again when its lease runs out. Emails wait here for the mail sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from scheduling.db import READ_ONLY, transaction
from scheduling.models import Channel, OutboxMessage, OutboxState, TelegramUser, utcnow

from .messages import RENDERERS, Rendered
from .services import Services

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 600))


class Delivery:
    def __init__(
        self,
        services: Services,
        bot: Bot,
        *,
        batch_size: int = 20,
        idle_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.services = services
        self.bot = bot
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.clock = clock

    async def run_once(self) -> int:
        """Claim and send one batch of due Telegram messages; how many were handled."""
        now = self.clock()
        async with transaction(self.services.sessions) as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.channel == Channel.TELEGRAM,
                        OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                row.state = OutboxState.SENDING
                row.attempts += 1
                row.next_attempt_at = now + LEASE
            claimed = [row.id for row in rows]
        for row_id in claimed:
            await self._deliver(row_id)
        return len(claimed)

    async def _deliver(self, row_id: int) -> None:
        async with self.services.sessions() as session:
            await session.connection(execution_options=READ_ONLY)
            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            renderer = RENDERERS.get(row.kind)
            rendered = None
            if renderer is not None:
                try:
                    rendered = await renderer(
                        session, self.services.translator(row.locale), row, self.clock()
                    )
                except Exception as exc:  # one broken message must not stop the others
                    log.exception("rendering outbox message %s (%s) failed", row_id, row.kind)
                    await self._record(row_id, retry_in=None, error=type(exc).__name__)
                    return
            target = await session.get(OutboxMessage, row.edits_id) if row.edits_id else None
            target_message = target.telegram_message_id if target is not None else None
        if renderer is None:
            await self._record(row_id, failed=f"no renderer for {row.kind!r}")
            return
        if rendered is None:
            await self._record(row_id, cancelled=True)
            return
        try:
            message = await self._send(row, rendered, target_message)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            await self._record(row_id, retry_in=timedelta(seconds=seconds), error="RetryAfter")
        except Forbidden:
            await self._record(row_id, failed="Forbidden: the bot is blocked", blocked=True)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                await self._record(row_id, sent_id=target_message)
            else:
                await self._record(row_id, failed=f"BadRequest: {exc.message}"[:300])
        except (NetworkError, TelegramError) as exc:
            await self._record(row_id, retry_in=None, error=type(exc).__name__)
        else:
            await self._record(row_id, sent_id=message.message_id if message else target_message)

    async def _send(
        self, row: OutboxMessage, rendered: Rendered, target_message: int | None
    ) -> Message | None:
        assert row.telegram_chat_id is not None
        if row.edits_id is not None:
            if target_message is None:
                raise NetworkError("the message to edit has not been sent yet")
            result = await self.bot.edit_message_text(
                rendered.text,
                chat_id=row.telegram_chat_id,
                message_id=target_message,
                reply_markup=rendered.buttons,
            )
            return result if isinstance(result, Message) else None
        return await self.bot.send_message(
            row.telegram_chat_id, rendered.text, reply_markup=rendered.buttons
        )

    async def _record(
        self,
        row_id: int,
        *,
        sent_id: int | None = None,
        failed: str | None = None,
        cancelled: bool = False,
        blocked: bool = False,
        retry_in: timedelta | None = None,
        error: str | None = None,
    ) -> None:
        now = self.clock()
        async with transaction(self.services.sessions) as session:
            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            if cancelled:
                row.state = OutboxState.CANCELLED
            elif failed is not None or (error is not None and row.attempts >= MAX_ATTEMPTS):
                row.state = OutboxState.FAILED
                row.last_error = failed or error
                log.warning(
                    "outbox message %s (%s) failed: %s",
                    row.id,
                    row.kind,
                    (failed or error or "").split(":")[0],
                )
                if blocked and row.telegram_chat_id is not None:
                    user = await session.get(TelegramUser, row.telegram_chat_id)
                    if user is not None:
                        user.blocked_bot_at = now
            elif error is not None:
                row.state = OutboxState.PENDING
                row.last_error = error
                row.next_attempt_at = now + (retry_in or retry_delay(row.attempts))
            else:
                row.state = OutboxState.SENT
                row.sent_at = now
                row.telegram_message_id = sent_id

    async def run_until(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Send until `stop` is set; between batches wait for `wake` or a moment."""
        wake = wake or asyncio.Event()
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the database may be away for a moment: try again later
                log.exception("the outbox could not be drained")
                handled = 0
            if handled:
                continue
            wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), self.idle_seconds
                )
            for waiter in waiters:
                waiter.cancel()
