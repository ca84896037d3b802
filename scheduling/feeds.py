"""Personal calendar feeds: a secret address per person showing their meetings (PUBLISH)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .models import (
    AccessToken,
    FamilyMember,
    Meeting,
    MeetingState,
    Participant,
    Professional,
    TelegramUser,
    TokenPurpose,
)
from .tokens import find, issue

FEED_VALID = timedelta(days=365)
RECENT = timedelta(days=30)


async def renew(session: AsyncSession, user: TelegramUser, now: datetime) -> str | None:
    """A new feed address for a Telegram user; their earlier addresses stop working."""
    professional = await session.scalar(
        select(Professional.id).where(Professional.telegram_user_id == user.id)
    )
    member = await session.scalar(
        select(FamilyMember.id).where(FamilyMember.telegram_user_id == user.id)
    )
    if professional is None and member is None:
        return None
    owner = (
        AccessToken.professional_id == professional
        if professional is not None
        else AccessToken.family_member_id == member
    )
    await session.execute(
        update(AccessToken)
        .where(
            owner,
            AccessToken.purpose == TokenPurpose.CALENDAR_FEED,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return await issue(
        session,
        TokenPurpose.CALENDAR_FEED,
        now + FEED_VALID,
        locale=user.locale,
        professional_id=professional,
        family_member_id=None if professional else member,
    )


async def feed_meetings(
    session: AsyncSession, token: str, now: datetime
) -> tuple[list[Meeting], str] | None:
    """The meetings a feed shows (fixed ones, and those cancelled lately), and its language."""
    row = await find(session, token, now, TokenPurpose.CALENDAR_FEED)
    if row is None:
        return None
    seat = (
        Participant.professional_id == row.professional_id
        if row.professional_id is not None
        else Participant.family_member_id == row.family_member_id
    )
    meetings = (
        await session.scalars(
            select(Meeting)
            .where(
                Meeting.id.in_(select(Participant.meeting_id).where(seat)),
                Meeting.starts_at.is_not(None),
                Meeting.anonymised_at.is_(None),
                (Meeting.state.in_([MeetingState.SCHEDULED, MeetingState.HELD]))
                | (
                    (Meeting.state == MeetingState.CANCELLED)
                    & (Meeting.cancelled_at >= now - RECENT)
                ),
            )
            .options(selectinload(Meeting.convener))
            .order_by(Meeting.starts_at)
        )
    ).all()
    return list(meetings), row.locale or "fi"
