"""The data model keeps itself consistent: keys, constraints, instants, and the main queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.models import (
    Availability,
    AvailabilityAnswer,
    CandidateTime,
    Job,
    JobState,
    Meeting,
    MeetingState,
    OutboxMessage,
    Participant,
    ParticipantKind,
)

from . import factories as f

Sessions = async_sessionmaker[AsyncSession]


async def test_instants_come_back_aware_and_in_utc(sessions: Sessions) -> None:
    helsinki = datetime(2026, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Helsinki"))
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=1001)
        kind = await f.meeting_type(session)
        meeting = await f.meeting(session, convener, kind, starts_at=helsinki)
        meeting_id = meeting.id
    async with sessions() as session:
        stored = await session.get(Meeting, meeting_id)
        assert stored is not None and stored.starts_at is not None
        assert stored.starts_at.tzinfo is not None
        assert stored.starts_at == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)


async def test_naive_datetimes_are_refused(sessions: Sessions) -> None:
    async with sessions() as session:
        session.add(Job(kind="reminder", due_at=datetime(2026, 6, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


@pytest.mark.parametrize(
    "breaks",
    [
        "duplicate_uid",
        "participant_both_kinds",
        "unknown_meeting",
        "bad_state",
        "too_long",
        "end_before_start",
        "outbox_without_recipient",
        "double_answer",
    ],
)
async def test_constraints_refuse_inconsistent_rows(sessions: Sessions, breaks: str) -> None:
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=2001)
        kind = await f.meeting_type(session)
        meeting = await f.meeting(session, convener, kind)
        guardian = await f.family_member(session)
        seat = await f.seat(session, meeting, convener)
        candidate = CandidateTime(
            meeting_id=meeting.id, starts_at=f.at(2026, 6, 1, 10), ends_at=f.at(2026, 6, 1, 11)
        )
        session.add(candidate)
        await session.flush()
        session.add(
            AvailabilityAnswer(
                candidate_time_id=candidate.id, participant_id=seat.id, answer=Availability.YES
            )
        )
        ids = {
            "meeting": meeting.id,
            "guardian": guardian.id,
            "convener": convener.id,
            "seat": seat.id,
            "candidate": candidate.id,
        }

    async with sessions() as session:
        with pytest.raises((IntegrityError, StatementError, LookupError)):
            async with session.begin():
                if breaks == "duplicate_uid":
                    await f.meeting(session, convener, kind, ical_uid=meeting.ical_uid)
                elif breaks == "participant_both_kinds":
                    session.add(
                        Participant(
                            meeting_id=ids["meeting"],
                            kind=ParticipantKind.PROFESSIONAL,
                            professional_id=ids["convener"] + 0,
                            family_member_id=ids["guardian"],
                            role="x",
                        )
                    )
                elif breaks == "unknown_meeting":
                    session.add(
                        Participant(meeting_id=99999, kind=ParticipantKind.FAMILY, role="x")
                    )
                elif breaks == "bad_state":
                    session.add(
                        Meeting(
                            meeting_type_id=kind.id,
                            organisation_id=org.id,
                            convener_id=ids["convener"],
                            duration_minutes=60,
                            ical_uid="x@y",
                            state="exploded",
                        )
                    )
                elif breaks == "too_long":
                    await f.meeting(session, convener, kind, duration_minutes=481)
                elif breaks == "end_before_start":
                    session.add(
                        CandidateTime(
                            meeting_id=ids["meeting"],
                            starts_at=f.at(2026, 6, 2, 10),
                            ends_at=f.at(2026, 6, 2, 9),
                        )
                    )
                elif breaks == "outbox_without_recipient":
                    session.add(
                        OutboxMessage(
                            channel="telegram",
                            kind="x",
                            locale="fi",
                            next_attempt_at=f.at(2026, 6, 1, 9),
                        )
                    )
                elif breaks == "double_answer":
                    session.add(
                        AvailabilityAnswer(
                            candidate_time_id=ids["candidate"],
                            participant_id=ids["seat"],
                            answer=Availability.NO,
                        )
                    )
                await session.flush()
    # Nothing of the refused change is left.
    async with sessions() as session:
        assert await session.scalar(select(Meeting.id).where(Meeting.ical_uid == "x@y")) is None
        assert len((await session.scalars(select(Participant))).all()) == 1
        assert len((await session.scalars(select(AvailabilityAnswer))).all()) == 1


async def test_deleting_a_meeting_takes_its_circle_and_times(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=3001)
        meeting = await f.meeting(session, convener, await f.meeting_type(session))
        await f.seat(session, meeting, convener)
        session.add(
            CandidateTime(
                meeting_id=meeting.id, starts_at=f.at(2026, 6, 1, 10), ends_at=f.at(2026, 6, 1, 11)
            )
        )
    async with sessions() as session, session.begin():
        await session.delete(await session.get(Meeting, meeting.id))
    async with sessions() as session:
        assert (await session.scalars(select(Participant))).all() == []
        assert (await session.scalars(select(CandidateTime))).all() == []


async def test_a_professionals_upcoming_meetings(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        me = await f.professional(session, org, telegram_id=4001)
        other = await f.professional(session, org, telegram_id=4002)
        kind = await f.meeting_type(session)
        soon = await f.meeting(session, other, kind, starts_at=now + timedelta(days=2))
        later = await f.meeting(session, other, kind, starts_at=now + timedelta(days=9))
        past = await f.meeting(session, other, kind, starts_at=now - timedelta(days=9))
        not_mine = await f.meeting(session, other, kind, starts_at=now + timedelta(days=1))
        for held in (later, soon, past):
            await f.seat(session, held, me)
        await f.seat(session, not_mine, other)
    async with sessions() as session:
        upcoming = (
            await session.scalars(
                select(Meeting)
                .join(Participant)
                .where(
                    Participant.professional_id == me.id,
                    Meeting.state == MeetingState.SCHEDULED,
                    Meeting.starts_at >= now,
                )
                .order_by(Meeting.starts_at)
            )
        ).all()
    assert [m.id for m in upcoming] == [soon.id, later.id]


async def test_due_jobs_in_order(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        session.add_all(
            [
                Job(kind="a", due_at=now - timedelta(minutes=5)),
                Job(kind="b", due_at=now - timedelta(minutes=10)),
                Job(kind="c", due_at=now + timedelta(minutes=10)),
                Job(kind="d", due_at=now - timedelta(minutes=1), state=JobState.DONE),
            ]
        )
    async with sessions() as session:
        due = await session.scalars(
            select(Job.kind)
            .where(Job.state == JobState.PENDING, Job.due_at <= now)
            .order_by(Job.due_at)
        )
        assert due.all() == ["b", "a"]
