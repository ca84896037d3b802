"""Sends the outbox's Telegram messages, each rendered in its recipient's language.

Two short transactions around each send, never one held across the network (see
`scheduling.outbox.OutboxWorker`): claim, send, record — sent with the Telegram message id,
retried with backoff, or failed for good (a blocked bot, a refused message, too many tries).
Several messages to different chats are in flight at once; one chat's go one after another.

Telegram's limits are kept by the bot's rate limiter (`bot.rate_limit`). A message that would
have to wait long for its turn, or that Telegram answers with 429, is put back for the time
asked and sent then — not counted as a try, never failed for it. When a message fails for
good, the meeting's convener is told in the chat whom it did not reach.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from scheduling import outbox
from scheduling.db import READ_ONLY
from scheduling.models import (
    Channel,
    FamilyMember,
    Meeting,
    OutboxMessage,
    OutboxState,
    Participant,
    Professional,
    TelegramUser,
)
from scheduling.outbox import OutboxWorker, Outcome

from .messages import RENDERERS, RenderContext, Rendered
from .rate_limit import Patience, retry_seconds
from .services import Services

# A message whose turn is further away than this is put back instead of held in memory.
MAX_WAIT_SECONDS = 5.0
CONCURRENCY = 16


class Delivery(OutboxWorker):
    channel = Channel.TELEGRAM
    worker_name = "delivery"

    def __init__(
        self,
        services: Services,
        bot: Bot,
        *,
        batch_size: int = 20,
        idle_seconds: float = 1.0,
        concurrency: int = CONCURRENCY,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            services.sessions,
            batch_size=batch_size,
            idle_seconds=idle_seconds,
            concurrency=concurrency,
            clock=clock or services.now,
            lease=timedelta(seconds=services.settings.outbox_lease_seconds),
            first_retry=timedelta(seconds=services.settings.outbox_retry_seconds),
        )
        self.services = services
        self.bot = bot
        # No retry in place: the row goes back to the outbox and the worker sends others.
        self.limits: dict[str, Any] = (
            {"rate_limit_args": Patience(retries=0, max_wait=MAX_WAIT_SECONDS)}
            if getattr(bot, "rate_limiter", None) is not None
            else {}
        )

    async def deliver(self, row_id: int) -> Outcome:
        async with self.sessions() as session:
            await session.connection(execution_options=READ_ONLY)
            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            renderer = RENDERERS.get(row.kind)
            if renderer is None:
                return Outcome.refused(f"no renderer for {row.kind!r}")
            t = self.services.translator(row.locale)
            context = RenderContext(self.clock(), self.services.settings, self.sessions)
            rendered = await renderer(session, t, row, context)
            target = await session.get(OutboxMessage, row.edits_id) if row.edits_id else None
            target_message = target.telegram_message_id if target is not None else None
        if rendered is None:
            return Outcome.nothing_to_say()
        try:
            message = await self.send(row, rendered, target_message)
        except RetryAfter as exc:
            return Outcome.later("RetryAfter", timedelta(seconds=retry_seconds(exc)))
        except Forbidden:
            return Outcome.refused("Forbidden: the bot is blocked", blocked=True)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return Outcome.done(target_message)
            return Outcome.refused(f"BadRequest: {exc.message}")
        except NetworkError as exc:  # the connection broke or timed out: it may have arrived
            return Outcome.retry(type(exc).__name__, uncertain=True)
        except TelegramError as exc:
            return Outcome.retry(type(exc).__name__)
        return Outcome.done(message.message_id if message else target_message)

    async def send(
        self, row: OutboxMessage, rendered: Rendered, target_message: int | None
    ) -> Message | None:
        assert row.telegram_chat_id is not None
        if rendered.document is not None:
            name, content = rendered.document
            return await self.bot.send_document(
                row.telegram_chat_id,
                content,
                filename=name,
                caption=rendered.text or None,
                **self.limits,
            )
        if row.edits_id is not None:
            if target_message is None:
                raise NetworkError("the message to edit has not been sent yet")
            result = await self.bot.edit_message_text(
                rendered.text,
                chat_id=row.telegram_chat_id,
                message_id=target_message,
                reply_markup=rendered.buttons,
                **self.limits,
            )
            return result if isinstance(result, Message) else None
        return await self.bot.send_message(
            row.telegram_chat_id, rendered.text, reply_markup=rendered.buttons, **self.limits
        )

    async def after(self, session: AsyncSession, row: OutboxMessage) -> None:
        """A meeting's message that failed for good: the convener hears whom it missed, once
        per meeting and person (never about their own chat, which is the one failing)."""
        if row.state != OutboxState.FAILED or row.meeting_id is None:
            return
        convener = await session.scalar(
            select(TelegramUser)
            .join(Professional, Professional.telegram_user_id == TelegramUser.id)
            .join(Meeting, Meeting.convener_id == Professional.id)
            .where(Meeting.id == row.meeting_id)
        )
        if convener is None or convener.id == row.telegram_chat_id:
            return
        seat = await session.scalar(
            select(Participant.id)
            .outerjoin(Professional, Participant.professional_id == Professional.id)
            .outerjoin(FamilyMember, Participant.family_member_id == FamilyMember.id)
            .where(
                Participant.meeting_id == row.meeting_id,
                (Professional.telegram_user_id == row.telegram_chat_id)
                | (FamilyMember.telegram_user_id == row.telegram_chat_id),
            )
            .limit(1)
        )
        if seat is None:
            return
        await outbox.tell(
            session,
            convener.id,
            "telegram_delivery_failed",
            convener.locale,
            now=self.clock(),
            meeting_id=row.meeting_id,
            dedupe_key=f"telegram-failed:{row.meeting_id}:{seat}",
            participant_id=seat,
        )
