"""Small builders of rows for tests: one organisation, professionals, a meeting type, a meeting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from scheduling import meetings
from scheduling.models import (
    FamilyMember,
    FamilyRole,
    Meeting,
    MeetingState,
    MeetingType,
    MeetingTypeRole,
    Organisation,
    Participant,
    ParticipantKind,
    Professional,
    ProfessionalState,
    Sector,
    TelegramUser,
)

_numbers = itertools.count(1)


async def organisation(session: AsyncSession, **values: object) -> Organisation:
    n = next(_numbers)
    values.setdefault("slug", f"org-{n}")
    values.setdefault("name", f"Organisation {n}")
    row = Organisation(**values)
    session.add(row)
    await session.flush()
    return row


async def professional(
    session: AsyncSession, org: Organisation, telegram_id: int | None = None, **values: object
) -> Professional:
    n = next(_numbers)
    if telegram_id is not None and await session.get(TelegramUser, telegram_id) is None:
        session.add(TelegramUser(id=telegram_id, locale="fi"))
    values.setdefault("sector", Sector.SCHOOL)
    values.setdefault("state", ProfessionalState.APPROVED)
    values.setdefault("display_name", f"Worker {n}")
    values.setdefault("title", "opettaja")
    row = Professional(organisation_id=org.id, telegram_user_id=telegram_id, **values)
    session.add(row)
    await session.flush()
    return row


async def meeting_type(session: AsyncSession, key: str | None = None) -> MeetingType:
    row = MeetingType(
        key=key or f"type-{next(_numbers)}",
        names={"fi": "Sisukas", "sv": "Sisukas", "en": "Sisukas"},
        default_duration_minutes=90,
        is_series=True,
        series_interval_days_min=60,
        series_interval_days_max=90,
        sectors=["school", "child_protection"],
        roles=[
            MeetingTypeRole(key="teacher", names={"fi": "opettaja"}, required=True),
            MeetingTypeRole(key="guardian", names={"fi": "huoltaja"}, is_family=True),
        ],
    )
    session.add(row)
    await session.flush()
    return row


async def meeting(
    session: AsyncSession,
    convener: Professional,
    kind: MeetingType,
    starts_at: datetime | None = None,
    **values: object,
) -> Meeting:
    n = next(_numbers)
    if starts_at is not None:
        values.setdefault("state", MeetingState.SCHEDULED)
        values.setdefault("ends_at", starts_at + timedelta(minutes=90))
    values.setdefault("case_label", f"Case {n}")
    values.setdefault("duration_minutes", 90)
    values.setdefault("ical_uid", f"meeting-{n}@kerralla.test")
    row = Meeting(
        meeting_type_id=kind.id,
        organisation_id=convener.organisation_id,
        convener_id=convener.id,
        starts_at=starts_at,
        **values,
    )
    session.add(row)
    await session.flush()
    return row


async def seat(
    session: AsyncSession, held: Meeting, who: Professional | FamilyMember, role: str = "teacher"
) -> Participant:
    is_professional = isinstance(who, Professional)
    row = Participant(
        meeting_id=held.id,
        kind=ParticipantKind.PROFESSIONAL if is_professional else ParticipantKind.FAMILY,
        professional_id=who.id if is_professional else None,
        family_member_id=None if is_professional else who.id,
        role=role,
    )
    session.add(row)
    await session.flush()
    return row


async def family_member(session: AsyncSession, **values: object) -> FamilyMember:
    values.setdefault("role", FamilyRole.GUARDIAN)
    row = FamilyMember(**values)
    session.add(row)
    await session.flush()
    return row


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def guardian_seat(
    session: AsyncSession, meeting: Meeting, locale: str, now: datetime
) -> meetings.OpenSeat:
    """A guardian's seat opened by the convener, as `/uusi` opens one: a one-time link."""
    return await meetings.open_seat(
        session,
        meeting,
        "guardian",
        family_role=FamilyRole.GUARDIAN,
        required=False,
        locale=locale,
        now=now,
    )
