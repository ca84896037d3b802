"""The people Kerralla talks to: remembering a Telegram user and their language."""

from __future__ import annotations

import asyncio
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .calendars import check_calendar_url
from .config import Settings
from .crypto import seal
from .i18n import LOCALES, pick_locale
from .models import FamilyMember, Professional, ProfessionalState, TelegramUser, utcnow


async def remember_telegram_user(
    session: AsyncSession, user_id: int, language_code: str | None, default_locale: str
) -> TelegramUser:
    """The user's row, made on first contact with the language their Telegram app uses."""
    user = await session.get(TelegramUser, user_id)
    if user is None:
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        # Two first updates from one person may race: the second insert does nothing.
        await session.execute(
            dialect.insert(TelegramUser)
            .values(
                id=user_id,
                language_code=language_code,
                locale=pick_locale(language_code, default_locale),
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        user = await session.get(TelegramUser, user_id)
        assert user is not None
    elif language_code and language_code != user.language_code:
        user.language_code = language_code
    return user


async def set_locale(session: AsyncSession, user_id: int, locale: str) -> None:
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    user = await session.get(TelegramUser, user_id)
    if user is None:
        raise LookupError("unknown Telegram user")
    user.locale = locale


async def approved_professional(session: AsyncSession, user_id: int) -> Professional | None:
    return await session.scalar(
        select(Professional).where(
            Professional.telegram_user_id == user_id,
            Professional.state == ProfessionalState.APPROVED,
        )
    )


async def set_calendar_feed(
    session: AsyncSession, professional: Professional, url: str | None, settings: Settings
) -> None:
    """Remember (or with None, forget) a professional's published calendar address.

    Raises InvalidInput, changing nothing, for an address Kerralla may not or cannot read.
    """
    if url is None or not url.strip():
        professional.calendar_feed_url = None
        return
    checked = await asyncio.to_thread(
        check_calendar_url, url.strip(), allow_loopback=settings.allow_loopback_calendars
    )
    professional.calendar_feed_url = checked


class Role(StrEnum):
    """What Kerralla is to the person writing, for what it says and allows."""

    PROFESSIONAL = "professional"
    PENDING = "pending"  # asked for access; an administrator has not yet decided
    FAMILY = "family"
    STRANGER = "stranger"


async def role_of(session: AsyncSession, user_id: int) -> Role:
    state = await session.scalar(
        select(Professional.state).where(Professional.telegram_user_id == user_id)
    )
    if state == ProfessionalState.APPROVED:
        return Role.PROFESSIONAL
    if state == ProfessionalState.PENDING:
        return Role.PENDING
    member = await session.scalar(
        select(FamilyMember.id).where(
            FamilyMember.telegram_user_id == user_id, FamilyMember.anonymised_at.is_(None)
        )
    )
    return Role.FAMILY if member is not None else Role.STRANGER


async def set_caldav(
    session: AsyncSession,
    professional: Professional,
    url: str | None,
    username: str | None,
    password: str | None,
    settings: Settings,
) -> None:
    """Remember (or with url None, forget) a professional's CalDAV account; the password is
    kept encrypted. Raises InvalidInput, changing nothing, for an address Kerralla may not read."""
    if url is None:
        professional.caldav_url = professional.caldav_username = None
        professional.caldav_password_encrypted = None
        return
    checked = await asyncio.to_thread(
        check_calendar_url, url.strip(), allow_loopback=settings.allow_loopback_calendars
    )
    professional.caldav_url = checked
    professional.caldav_username = (username or "").strip() or None
    professional.caldav_password_encrypted = seal(settings, password) if password else None
