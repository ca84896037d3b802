"""Proposing times for a meeting: everyone's busy times from Kerralla and their calendars,
fed to the candidate engine (slots.py).

A calendar that is slow, down or unreadable never blocks this: its owner's busy times count as
unknown and `Proposal.unknown` says whose, for the convener to be told in plain words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .calendars import CalendarResult, CalendarSource, FeedCache, gather_busy, problem_text
from .config import Settings
from .crypto import unseal
from .i18n import Translator
from .models import Meeting, MeetingState, Organisation, Participant, Professional
from .slots import (
    Attendee,
    Candidate,
    Interval,
    OfficeHours,
    PreferredHours,
    SlotRequest,
    candidate_times,
    validate,
)


@dataclass(frozen=True)
class UnknownCalendar:
    """One participant whose calendar could not be read, and why."""

    participant_id: int
    name: str
    problem: str | None

    def render(self, t: Translator) -> str:
        return t.gettext(problem_text(self.problem), name=self.name)


@dataclass(frozen=True)
class Proposal:
    candidates: list[Candidate]
    unknown: list[UnknownCalendar]


def window_instants(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(0), zone),
        datetime.combine(last + timedelta(days=1), time(0), zone),
    )


async def kerralla_busy(
    session: AsyncSession,
    professional_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    besides: int | None = None,
) -> dict[int, list[Interval]]:
    """Each professional's fixed Kerralla meetings in [start, end), as participant or convener."""
    seats = await session.execute(
        select(Participant.professional_id, Meeting.starts_at, Meeting.ends_at)
        .join(Meeting, Participant.meeting_id == Meeting.id)
        .where(
            Participant.professional_id.in_(professional_ids),
            Meeting.state == MeetingState.SCHEDULED,
            Meeting.starts_at < end,
            Meeting.ends_at > start,
            Meeting.id != (besides or 0),
        )
    )
    busy: dict[int, list[Interval]] = {pid: [] for pid in professional_ids}
    for professional_id, starts_at, ends_at in seats:
        busy[professional_id].append(Interval(starts_at, ends_at))
    return busy


def calendar_source(professional: Professional, settings: Settings) -> CalendarSource | None:
    if not professional.calendar_feed_url and not professional.caldav_url:
        return None
    password = None
    if professional.caldav_password_encrypted:
        password = unseal(settings, professional.caldav_password_encrypted)
    return CalendarSource(
        feed_url=professional.calendar_feed_url,
        caldav_url=professional.caldav_url,
        caldav_username=professional.caldav_username,
        caldav_password=password,
    )


async def propose_times(
    session: AsyncSession,
    meeting: Meeting,
    settings: Settings,
    now: datetime,
    *,
    cache: FeedCache | None = None,
    limit: int = 6,
) -> Proposal:
    """The `limit` best candidate times for the meeting's window, length and circle, in time
    order (slots.candidate_times chooses and spreads them).

    Whose preferred hours count: the convening organisation's and those of the organisations
    of the required professionals in the circle, each organisation once. A time inside all of
    them comes first; when they do not meet (a school's "after 12.00" and an office's "8.00–
    11.00"), a time inside the most of them. The office hours, working days and blocked
    periods are the convening organisation's.

    Raises InvalidInput for a window in the past or too long, or a length out of range.
    """
    zone = ZoneInfo(meeting.time_zone)
    organisation = await session.scalar(
        select(Organisation)
        .where(Organisation.id == meeting.organisation_id)
        .options(selectinload(Organisation.blocked_periods))
    )
    participants = (
        await session.scalars(
            select(Participant)
            .where(Participant.meeting_id == meeting.id)
            .options(selectinload(Participant.professional).selectinload(Professional.organisation))
        )
    ).all()
    assert organisation is not None and meeting.window_start and meeting.window_end
    start, end = window_instants(meeting.window_start, meeting.window_end, zone)
    professionals = {p.id: p.professional for p in participants if p.professional is not None}
    own = await kerralla_busy(
        session, [pro.id for pro in professionals.values()], start, end, besides=meeting.id
    )
    results: Mapping[int, CalendarResult] = await gather_busy(
        {seat: calendar_source(pro, settings) for seat, pro in professionals.items()},
        start,
        end,
        time_zone=meeting.time_zone,
        timeout=settings.calendar_timeout_seconds,
        cache=cache,
        allow_loopback=settings.allow_loopback_calendars,
    )
    attendees = []
    for seat in participants:
        busy = []
        known = True
        if seat.id in professionals:
            busy = own[professionals[seat.id].id]
            result = results[seat.id]
            busy += result.busy
            known = result.known
        attendees.append(
            Attendee(key=seat.id, busy=tuple(busy), required=seat.required, busy_known=known)
        )
    preferring = {organisation.id: organisation} | {
        seat.professional.organisation_id: seat.professional.organisation
        for seat in participants
        if seat.required and seat.professional is not None
    }
    request = SlotRequest(
        window_start=meeting.window_start,
        window_end=meeting.window_end,
        duration=timedelta(minutes=meeting.duration_minutes),
        attendees=tuple(attendees),
        time_zone=meeting.time_zone,
        office_hours=OfficeHours.from_digits(
            organisation.working_weekdays,
            organisation.office_hours_start,
            organisation.office_hours_end,
        ),
        blocked=tuple((p.starts_on, p.ends_on) for p in organisation.blocked_periods),
        # Times come after the answer deadline, so that everyone can answer first.
        not_before=max(now, meeting.answer_deadline or now),
        preferred=tuple(
            PreferredHours(org.preferred_hours_start, org.preferred_hours_end)
            for _, org in sorted(preferring.items())
            if org.preferred_hours_start is not None or org.preferred_hours_end is not None
        ),
    )
    validate(request, today=now.astimezone(zone).date(), max_window_days=settings.max_window_days)
    unknown = [
        UnknownCalendar(seat, professionals[seat].display_name, result.problem)
        for seat, result in results.items()
        if not result.known
    ]
    chosen = sorted(candidate_times(request, limit=limit), key=attrgetter("start"))
    return Proposal(chosen, unknown)
