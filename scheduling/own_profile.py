"""A professional's rights over their own profile: see everything Kerralla holds about them,
download it, and delete the profile (the name, contact details and calendar accounts go; the
meetings they took part in stay, for the others in them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    Meeting,
    Organisation,
    Participant,
    Professional,
    ProfessionalState,
)
from .professionals import audit
from .tokens import revoke_for_professional

DELETED_NAME = "–"


async def export(
    session: AsyncSession, professional: Professional, now: datetime, channel: AccessChannel
) -> dict[str, Any]:
    """The profile, the meetings they are in (when and in which role, no case labels) and what
    they did in Kerralla (the audit trail, without content). The export itself is audited."""
    organisation = await session.get(Organisation, professional.organisation_id)
    seats = (
        await session.execute(
            select(Participant.role, Participant.is_co_convener, Meeting)
            .join(Meeting, Meeting.id == Participant.meeting_id)
            .where(Participant.professional_id == professional.id)
            .order_by(Meeting.id)
        )
    ).all()
    trail = (
        await session.scalars(
            select(AuditEvent)
            .where(
                (AuditEvent.actor_kind == ActorKind.PROFESSIONAL)
                & (AuditEvent.actor_id == professional.id)
                | (AuditEvent.object_type == "professional")
                & (AuditEvent.object_id == professional.id)
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    audit(
        session,
        now,
        ActorKind.PROFESSIONAL,
        professional.id,
        "professional.export",
        professional.id,
        channel,
    )
    return {
        "exported_at": now.isoformat(),
        "profile": {
            "name": professional.display_name,
            "title": professional.title,
            "sector": professional.sector.value,
            "organisation": organisation.name if organisation else None,
            "email": professional.email,
            "state": professional.state.value,
            "calendar_feed": professional.calendar_feed_url,
            "caldav_url": professional.caldav_url,
            "caldav_username": professional.caldav_username,
            "approved_at": professional.approved_at.isoformat()
            if professional.approved_at
            else None,
        },
        "meetings": [
            {
                "id": meeting.id,
                "starts_at": meeting.starts_at.isoformat() if meeting.starts_at else None,
                "state": meeting.state.value,
                "role": role,
                "convener": meeting.convener_id == professional.id,
                "co_convener": co,
            }
            for role, co, meeting in seats
        ],
        "what_you_did": [
            {
                "when": event.occurred_at.isoformat(),
                "action": event.action,
                "channel": event.channel.value,
                "meeting": event.meeting_id,
            }
            for event in trail
        ],
    }


async def delete(
    session: AsyncSession, professional: Professional, now: datetime, channel: AccessChannel
) -> None:
    """Forget the person: name, title, email, calendars and the Telegram account; they can no
    longer convene or see meetings. What the meetings need (that a seat was there) stays."""
    professional.display_name = DELETED_NAME
    professional.title = DELETED_NAME
    professional.email = None
    professional.calendar_feed_url = None
    professional.caldav_url = None
    professional.caldav_username = None
    professional.caldav_password_encrypted = None
    professional.telegram_user_id = None
    professional.state = ProfessionalState.REVOKED
    professional.revoked_at = now
    await revoke_for_professional(session, professional.id, now)
    audit(
        session,
        now,
        ActorKind.PROFESSIONAL,
        professional.id,
        "professional.delete",
        professional.id,
        channel,
    )
    await session.flush()
