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
    return await _add(
        session,
        OutboxMessage(
            channel=Channel.TELEGRAM,
            telegram_chat_id=chat_id,
            kind=kind,
            locale=locale,
            payload=params,
            meeting_id=meeting_id,
            dedupe_key=dedupe_key,
        ),
    )


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
    return await _add(
        session,
        OutboxMessage(
            channel=Channel.EMAIL,
            email_to=address,
            kind=kind,
            locale=locale,
            payload=params,
            meeting_id=meeting_id,
            dedupe_key=dedupe_key,
        ),
    )


async def _add(session: AsyncSession, message: OutboxMessage) -> OutboxMessage | None:
    if message.dedupe_key is not None:
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == message.dedupe_key)
        )
        if existing is not None:
            return None
    session.add(message)
    await session.flush()
    return message
