"""Whom a message can reach: a seat's person in Telegram, and the language they read."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .models import Participant, ProfessionalState, TelegramUser


async def reach(session: AsyncSession, seat: Participant) -> tuple[int, str] | None:
    """The Telegram chat and language of a seat's person, or None if they cannot be reached
    there (not in Telegram, or they have blocked the bot). Needs the seat's person loaded."""
    person = seat.professional or seat.family_member
    if person is None or person.telegram_user_id is None:
        return None
    if seat.professional is not None and seat.professional.state != ProfessionalState.APPROVED:
        return None  # a revoked professional hears nothing more of the meeting
    user = await session.get(TelegramUser, person.telegram_user_id)
    if user is None or user.blocked_bot_at is not None:
        return None
    locale = seat.family_member.locale if seat.family_member else user.locale
    return user.id, locale
