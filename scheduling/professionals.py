"""Who may convene: professionals invited by an administrator, or approved after asking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .errors import UsageError
from .models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    Organisation,
    Professional,
    ProfessionalState,
    Sector,
    TokenPurpose,
)
from .tokens import find, issue, revoke_for_professional

INVITATION_DAYS = 14
EMAIL = re.compile(r"^[^@\s<>,;:]+@[^@\s<>,;:]+\.[^@\s<>,;:]+$")


@dataclass(frozen=True)
class Invitation:
    professional_id: int
    token: str
    expires_at: datetime


def audit(
    session: AsyncSession,
    now: datetime,
    actor: ActorKind,
    actor_id: int | None,
    action: str,
    professional_id: int,
    channel: AccessChannel,
) -> None:
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_kind=actor,
            actor_id=actor_id,
            action=action,
            object_type="professional",
            object_id=professional_id,
            channel=channel,
        )
    )


async def organisation_by_slug(session: AsyncSession, slug: str) -> Organisation:
    organisation = await session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        known = ", ".join(
            await session.scalars(select(Organisation.slug).order_by(Organisation.slug))
        )
        known = known or "none yet (load them with kerralla admin load FILE)"
        raise UsageError(f"there is no organisation {slug!r}; known: {known}")
    return organisation


def parse_sector(value: str) -> Sector:
    try:
        return Sector(value.strip().lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(s.value for s in Sector)
        raise UsageError(f"{value!r} is not a sector; choose one of: {choices}") from None


async def invite_professional(
    session: AsyncSession,
    *,
    organisation: str,
    sector: str,
    title: str,
    email: str | None,
    name: str | None,
    now: datetime,
    days: int = INVITATION_DAYS,
) -> Invitation:
    """A professional waiting for their one-time link to be opened in Telegram."""
    org = await organisation_by_slug(session, organisation)
    if not title.strip() or len(title.strip()) > 120:
        raise UsageError("give a title of 1 to 120 characters, e.g. --title 'erityisopettaja'")
    if email is not None and not EMAIL.match(email.strip()):
        raise UsageError(f"{email!r} is not an email address")
    if not 1 <= days <= 90:
        raise UsageError("an invitation can be valid for 1 to 90 days")
    professional = Professional(
        organisation_id=org.id,
        sector=parse_sector(sector),
        title=title.strip(),
        email=email.strip() if email else None,
        display_name=(name or "").strip()[:120],
        state=ProfessionalState.INVITED,
    )
    session.add(professional)
    await session.flush()
    expires_at = now + timedelta(days=days)
    token = await issue(
        session, TokenPurpose.PROFESSIONAL_INVITE, expires_at, professional_id=professional.id
    )
    audit(
        session,
        now,
        ActorKind.ADMINISTRATOR,
        None,
        "professional.invite",
        professional.id,
        AccessChannel.CLI,
    )
    return Invitation(professional.id, token, expires_at)


async def register(
    session: AsyncSession, token: str, telegram_user_id: int, full_name: str, now: datetime
) -> Professional | None:
    """Open a professional invitation in Telegram; None when the link is not valid (any way)."""
    row = await find(session, token, now, TokenPurpose.PROFESSIONAL_INVITE)
    if row is None or row.professional_id is None:
        return None
    professional = await session.get(Professional, row.professional_id)
    if professional is None or professional.state != ProfessionalState.INVITED:
        return None
    already = await session.scalar(
        select(Professional).where(Professional.telegram_user_id == telegram_user_id)
    )
    if already is not None and already.id != professional.id:
        # One Telegram account is one professional: the new invitation replaces the old seat.
        already.telegram_user_id = None
        if already.state in {ProfessionalState.PENDING, ProfessionalState.INVITED}:
            already.state = ProfessionalState.REVOKED
        await session.flush()
    row.used_at = now
    professional.telegram_user_id = telegram_user_id
    professional.display_name = professional.display_name or full_name.strip()[:120] or "?"
    professional.state = ProfessionalState.APPROVED
    professional.approved_at = now
    audit(
        session,
        now,
        ActorKind.PROFESSIONAL,
        professional.id,
        "professional.register",
        professional.id,
        AccessChannel.TELEGRAM,
    )
    return professional


async def professionals(session: AsyncSession) -> list[Professional]:
    return list(
        (
            await session.scalars(
                select(Professional)
                .options(selectinload(Professional.organisation))
                .order_by(Professional.id)
            )
        ).all()
    )


async def revoke(session: AsyncSession, professional_id: int, now: datetime) -> Professional:
    professional = await session.get(Professional, professional_id)
    if professional is None:
        raise UsageError(f"there is no professional {professional_id}")
    professional.state = ProfessionalState.REVOKED
    professional.revoked_at = now
    await revoke_for_professional(session, professional_id, now)
    audit(
        session,
        now,
        ActorKind.ADMINISTRATOR,
        None,
        "professional.revoke",
        professional_id,
        AccessChannel.CLI,
    )
    return professional


async def request_access(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    organisation_id: int,
    sector: Sector,
    title: str,
    name: str,
    now: datetime,
) -> Professional:
    """A Telegram user asks to become a professional; an administrator decides."""
    professional = await session.scalar(
        select(Professional).where(Professional.telegram_user_id == telegram_user_id)
    )
    if professional is not None and professional.state == ProfessionalState.APPROVED:
        return professional
    if professional is None:
        professional = Professional(telegram_user_id=telegram_user_id)
        session.add(professional)
    professional.organisation_id = organisation_id
    professional.sector = sector
    professional.title = title.strip()[:120]
    professional.display_name = name.strip()[:120] or "?"
    professional.state = ProfessionalState.PENDING
    await session.flush()
    audit(
        session,
        now,
        ActorKind.ANONYMOUS,
        telegram_user_id,
        "professional.request_access",
        professional.id,
        AccessChannel.TELEGRAM,
    )
    return professional


async def decide(
    session: AsyncSession, professional_id: int, admin_id: int, *, approve: bool, now: datetime
) -> Professional | None:
    """Approve or turn down a pending request; None if it was already decided (or never was)."""
    professional = await session.get(Professional, professional_id, with_for_update=True)
    if professional is None or professional.state != ProfessionalState.PENDING:
        return None
    if approve:
        professional.state = ProfessionalState.APPROVED
        professional.approved_at = now
    else:
        professional.state = ProfessionalState.REVOKED
        professional.revoked_at = now
    audit(
        session,
        now,
        ActorKind.ADMINISTRATOR,
        admin_id,
        "professional.approve" if approve else "professional.reject",
        professional_id,
        AccessChannel.TELEGRAM,
    )
    return professional
