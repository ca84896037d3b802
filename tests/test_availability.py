"""Proposing times from everyone's busy times: other Kerralla meetings, published calendars,
and calendars that do not answer."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.availability import Proposal, propose_times
from scheduling.config import load_settings
from scheduling.errors import InvalidInput
from scheduling.i18n import translator
from scheduling.models import Meeting, MeetingState, Professional
from scheduling.people import set_calendar_feed

from . import factories as f
from .calendar_servers import feed_server
from .harness import DATA_KEY

Sessions = async_sessionmaker[AsyncSession]
HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SETTINGS = load_settings(
    _env_file=None,
    data_key=DATA_KEY,
    allow_loopback_calendars=True,
    calendar_timeout_seconds=0.4,
)

# The social worker's published calendar: all of Tuesday 8.12. is taken.
TUESDAY_OFF = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:koulutus@example\r
DTSTAMP:20261101T000000Z\r
DTSTART;VALUE=DATE:20261208\r
DTEND;VALUE=DATE:20261209\r
SUMMARY:Koulutus\r
END:VEVENT\r
END:VCALENDAR\r
"""


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


async def circle(session: AsyncSession, feeds: dict[str, str]) -> Meeting:
    org = await f.organisation(session)
    kind = await f.meeting_type(session)
    convener = await f.professional(session, org, telegram_id=8001, display_name="Kaisa Kuraattori")
    teacher = await f.professional(session, org, telegram_id=8002, display_name="Olli Opettaja")
    worker = await f.professional(
        session,
        org,
        telegram_id=8003,
        display_name="Sanna Sosiaali",
        calendar_feed_url=feeds["worker"],
    )
    nurse = await f.professional(
        session,
        org,
        telegram_id=8004,
        display_name="Terhi Terveys",
        calendar_feed_url=feeds["nurse"],
    )
    # The teacher is in another Kerralla meeting on Monday morning.
    other = await f.meeting(
        session, nurse, kind, starts_at=local(2026, 12, 7, 8, 0), ends_at=local(2026, 12, 7, 12, 0)
    )
    await f.seat(session, other, teacher)
    meeting = await f.meeting(
        session,
        convener,
        kind,
        state=MeetingState.COLLECTING,
        duration_minutes=60,
        window_start=date(2026, 12, 7),
        window_end=date(2026, 12, 11),
    )
    for who, required in ((convener, True), (teacher, True), (worker, False), (nurse, False)):
        seat = await f.seat(session, meeting, who)
        seat.required = required
    await session.flush()
    return meeting


async def test_times_avoid_busy_people_and_slow_calendars_are_named(sessions: Sessions) -> None:
    async with feed_server({"worker.ics": TUESDAY_OFF}) as server:
        server.slow_seconds = 5
        feeds = {"worker": server.url("/feeds/worker.ics"), "nurse": server.url("/slow")}
        async with sessions() as session, session.begin():
            meeting = await circle(session, feeds)
            started = clock.monotonic()
            proposal = await propose_times(session, meeting, SETTINGS, NOW, limit=6)
            took = clock.monotonic() - started
    assert took < 2  # the slow calendar cost one timeout, not five seconds
    starts = [c.start.astimezone(HELSINKI) for c in proposal.candidates]
    # Everyone required is free in each, shown in time order; the four days when the social
    # worker is free as well are all used, at different times of day rather than at 8.00 on
    # each; Monday's times come after the teacher's other meeting; Tuesday, when the social
    # worker is away, is not needed.
    assert all(c.all_required_free and len(c.free) == 3 for c in proposal.candidates)
    assert starts == [
        local(2026, 12, 7, 12, 0),
        local(2026, 12, 7, 13, 30),
        local(2026, 12, 9, 8, 0),
        local(2026, 12, 9, 9, 0),
        local(2026, 12, 10, 15, 0),
        local(2026, 12, 11, 10, 0),
    ]
    nurse_seat = next(iter(proposal.candidates[0].unknown))
    [unknown] = proposal.unknown
    assert unknown.participant_id == nurse_seat
    assert unknown.render(translator("fi")) == (
        "Henkilön Terhi Terveys kalenteri ei vastannut ajoissa, joten hänen varatut aikansa "
        "eivät ole tiedossa."
    )
    assert unknown.render(translator("sv")) == (
        "Kalendern för Terhi Terveys svarade inte i tid, så hens upptagna tider är okända."
    )


@pytest.mark.parametrize(
    ("window", "finnish"),
    [
        ((date(2026, 11, 2), date(2026, 11, 6)), "Viimeinen päivä ei voi olla menneisyydessä."),
        ((date(2026, 12, 7), date(2027, 6, 30)), "Jakso voi olla enintään 120 päivän pituinen."),
    ],
)
async def test_a_window_that_cannot_be_is_refused_in_the_users_language(
    sessions: Sessions, window: tuple[date, date], finnish: str
) -> None:
    async with sessions() as session, session.begin():
        meeting = await circle(session, {"worker": "", "nurse": ""})
        meeting.window_start, meeting.window_end = window
        with pytest.raises(InvalidInput) as refused:
            await propose_times(session, meeting, SETTINGS, NOW)
    assert refused.value.render(translator("fi")) == finnish


@pytest.mark.parametrize(
    "url",
    [
        "ftp://calendar.example/feed.ics",
        "file:///etc/passwd",
        "http://10.1.2.3/cal.ics",
        "http://127.0.0.1:8080/cal.ics",
        "https://user:secret@calendar.example/cal.ics",
        "outlook",
    ],
)
async def test_a_calendar_address_kerralla_may_not_read_is_refused(
    sessions: Sessions, url: str
) -> None:
    strict = load_settings(_env_file=None, data_key=DATA_KEY)
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        professional = await f.professional(session, org, telegram_id=8101)
        with pytest.raises(InvalidInput) as refused:
            await set_calendar_feed(session, professional, url, strict)
        assert professional.calendar_feed_url is None
    assert refused.value.render(translator("fi"))  # a Finnish sentence, not an English one
    assert refused.value.render(translator("fi")) != str(refused.value)
    await set_calendar_feed_ok(sessions, professional.id)


async def set_calendar_feed_ok(sessions: Sessions, professional_id: int) -> None:
    async with sessions() as session, session.begin():
        professional = await session.get(Professional, professional_id)
        trial = load_settings(_env_file=None, allow_loopback_calendars=True)
        await set_calendar_feed(session, professional, "webcal://127.0.0.1/cal.ics", trial)
        assert professional.calendar_feed_url == "https://127.0.0.1/cal.ics"


async def school_and_child_protection(
    session: AsyncSession, school_hours: tuple[time | None, time | None], **office: object
) -> Meeting:
    """A child-protection office convenes a 60-minute meeting, Monday 7. to Friday 11.12.,
    with a required teacher from a school and a psychologist from a team, who is not."""
    office_org = await f.organisation(session, **office)
    school = await f.organisation(
        session, preferred_hours_start=school_hours[0], preferred_hours_end=school_hours[1]
    )
    # The psychologist's team prefers mornings, but the psychologist is not required.
    team = await f.organisation(session, preferred_hours_end=time(10))
    kind = await f.meeting_type(session)
    worker = await f.professional(session, office_org)
    teacher = await f.professional(session, school)
    psychologist = await f.professional(session, team)
    meeting = await f.meeting(
        session,
        worker,
        kind,
        state=MeetingState.COLLECTING,
        duration_minutes=60,
        window_start=date(2026, 12, 7),
        window_end=date(2026, 12, 11),
    )
    for who, required in ((worker, True), (teacher, True), (psychologist, False)):
        seat = await f.seat(session, meeting, who)
        seat.required = required
    await session.flush()
    return meeting


def hours_of(proposal: Proposal) -> list[str]:
    return [f"{c.start.astimezone(HELSINKI):%a %H.%M}" for c in proposal.candidates]


async def test_a_schools_after_twelve_makes_every_time_start_at_twelve_or_later(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        meeting = await school_and_child_protection(session, (time(12), None))
        proposal = await propose_times(session, meeting, SETTINGS, NOW, limit=6)
    starts = [c.start.astimezone(HELSINKI) for c in proposal.candidates]
    assert len(starts) == 6
    assert all(start.time() >= time(12) for start in starts), hours_of(proposal)
    assert len({start.date() for start in starts}) == 5  # every day of the week
    assert len({start.time() for start in starts}) >= 3, hours_of(proposal)  # not all at 12.00


async def test_preferred_hours_of_school_and_office_meet_where_they_can(
    sessions: Sessions,
) -> None:
    # The office prefers 8.00–14.00 and the school after 12.00: where both hold is 12.00–14.00.
    async with sessions() as session, session.begin():
        meeting = await school_and_child_protection(
            session, (time(12), None), preferred_hours_start=time(8), preferred_hours_end=time(14)
        )
        proposal = await propose_times(session, meeting, SETTINGS, NOW, limit=5)
    starts = [c.start.astimezone(HELSINKI).time() for c in proposal.candidates]
    assert all(time(12) <= start <= time(13) for start in starts), hours_of(proposal)

    # The office prefers mornings to 11.00, the school after 12.00: they do not meet, so the
    # times lie within one of them; none starts 10.15–11.45, inside neither.
    async with sessions() as session, session.begin():
        meeting = await school_and_child_protection(
            session, (time(12), None), preferred_hours_end=time(11)
        )
        proposal = await propose_times(session, meeting, SETTINGS, NOW, limit=5)
    starts = [c.start.astimezone(HELSINKI).time() for c in proposal.candidates]
    assert len(starts) == 5
    assert all(start <= time(10) or start >= time(12) for start in starts), hours_of(proposal)
