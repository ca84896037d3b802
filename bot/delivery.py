"""Sends the outbox's Telegram messages, each rendered in its recipient's language.

Two short transactions around each send, never one held across the network (see
`scheduling.outbox.OutboxWorker`): claim, send, record — sent with the Telegram message id,
retried with backoff, or failed for good (a blocked bot, a refused message, too many tries).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from scheduling.db import READ_ONLY
from scheduling.models import Channel, OutboxMessage, utcnow
from scheduling.outbox import OutboxWorker, Outcome

from .messages import RENDERERS, RenderContext, Rendered
from .services import Services


class Delivery(OutboxWorker):
    channel = Channel.TELEGRAM

    def __init__(
        self,
        services: Services,
        bot: Bot,
        *,
        batch_size: int = 20,
        idle_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            services.sessions, batch_size=batch_size, idle_seconds=idle_seconds, clock=clock
        )
        self.services = services
        self.bot = bot

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
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return Outcome.retry("RetryAfter", timedelta(seconds=seconds))
        except Forbidden:
            return Outcome.refused("Forbidden: the bot is blocked", blocked=True)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return Outcome.done(target_message)
            return Outcome.refused(f"BadRequest: {exc.message}")
        except (NetworkError, TelegramError) as exc:
            return Outcome.retry(type(exc).__name__)
        return Outcome.done(message.message_id if message else target_message)

    async def send(
        self, row: OutboxMessage, rendered: Rendered, target_message: int | None
    ) -> Message | None:
        assert row.telegram_chat_id is not None
        if rendered.document is not None:
            name, content = rendered.document
            return await self.bot.send_document(
                row.telegram_chat_id, content, filename=name, caption=rendered.text or None
            )
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
