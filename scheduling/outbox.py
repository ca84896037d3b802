"""Messages to send after the commit that causes them.

The domain says *what* to tell *whom* — a message kind and its parameters — in the same
transaction as the change; the face renders the text in the recipient's language when it sends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Channel, OutboxMessage


async def tell(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    locale: str,
    *,
    meeting_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Queue a Telegram message. With a `dedupe_key`, a second call queues nothing."""
    message = OutboxMessage(channel=Channel.TELEGRAM, telegram_chat_id=chat_id)
    return await _add(session, message, kind, locale, meeting_id, dedupe_key, params)


async def email(
    session: AsyncSession,
    address: str,
    kind: str,
    locale: str,
    *,
    meeting_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Queue an email. With a `dedupe_key`, a second call queues nothing."""
    message = OutboxMessage(channel=Channel.EMAIL, email_to=address)
    return await _add(session, message, kind, locale, meeting_id, dedupe_key, params)


async def _add(
    session: AsyncSession,
    message: OutboxMessage,
    kind: str,
    locale: str,
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
    session.add(message)
    await session.flush()
    return message
