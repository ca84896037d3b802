"""The family's answers: their own questions in their language, sealed at rest, consent that
starts from nobody, changeable until the summary, every read and change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from scheduling import meetings, questionnaire
from scheduling.catalog_data import ensure_defaults
from scheduling.errors import InvalidInput
from scheduling.i18n import translator
from scheduling.models import (
    AccessChannel,
    Answer,
    AuditEvent,
    FamilyMember,
    FamilyRole,
    Meeting,
    MeetingState,
    MeetingType,
    QuestionnaireResponse,
    utcnow,
)

from . import factories as f
from .harness import settings_for_test

Sessions = async_sessionmaker[AsyncSession]
WEB = AccessChannel.WEB


async def family_meeting(
    session: AsyncSession, role: FamilyRole = FamilyRole.GUARDIAN, **member: object
) -> tuple[Meeting, FamilyMember]:
    await ensure_defaults(session)
    org = await f.organisation(session)
    convener = await f.professional(session, org, telegram_id=6001)
    kind = await session.scalar(select(MeetingType).where(MeetingType.key == "perhekeskustiimi"))
    meeting = await f.meeting(session, convener, kind, state=MeetingState.COLLECTING)
    await f.seat(session, meeting, convener, role="family_centre_worker")
    teacher = await f.professional(session, org, telegram_id=6002)
    await f.seat(session, meeting, teacher, role="teacher")
    parent = await f.family_member(session, role=role, **member)
    await f.seat(session, meeting, parent, role="guardian")
    return await meetings.load(session, meeting.id), parent


async def test_questions_in_the_family_members_language(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session, locale="fi", plain_language=True)
        response = await questionnaire.response_for(session, meeting, parent)
        plain = await questionnaire.questions(session, response, parent)
        parent.locale, parent.plain_language = "sv", False
        swedish = await questionnaire.questions(session, response, parent)
        child = await f.family_member(session, role=FamilyRole.CHILD, locale="fi")
        mine = await questionnaire.questions(session, response, child)
    assert plain[0].text == "Mikä teillä menee hyvin? Kerro lapsesta ja perheestä."
    assert swedish[0].key == "going_well" and swedish[0].text != plain[0].text
    assert len(plain) == 9  # the adults' questions, not the child's
    assert "child_view" not in {q.key for q in plain}
    # The child or young person is asked their own questions only.
    assert [q.key for q in mine] == ["child_view"]
    choices = next(q for q in swedish if q.key == "help_topics")
    assert len(choices.options) == 8


async def test_answers_are_sealed_and_checked(sessions: Sessions, database_url: str) -> None:
    settings = settings_for_test(database_url, "http://127.0.0.1:9")
    now = utcnow()
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session)
        response = await questionnaire.response_for(session, meeting, parent)
        asked = {q.key: q for q in await questionnaire.questions(session, response, parent)}
        words = "Koulu sujuu; äiti on väsynyt, <script>alert(1)</script> 😊"
        await questionnaire.save_answer(
            session, meeting, parent, response, asked["worries"], words, settings, now, WEB
        )
        first_topic = asked["help_topics"].options[0][0]
        await questionnaire.save_answer(
            session,
            meeting,
            parent,
            response,
            asked["help_topics"],
            [first_topic],
            settings,
            now,
            WEB,
        )
        await questionnaire.save_answer(
            session, meeting, parent, response, asked["going_well"], None, settings, now, WEB
        )
        with pytest.raises(InvalidInput) as refused:
            await questionnaire.save_answer(
                session,
                meeting,
                parent,
                response,
                asked["change"],
                "x" * 10_000,
                settings,
                now,
                WEB,
            )
        assert refused.value.render(translator("fi")) == (
            "Vastauksesi on 10\u00a0000 merkkiä pitkä; enintään 4\u00a0000 merkkiä mahtuu."
        )
        with pytest.raises(InvalidInput):
            await questionnaire.save_answer(
                session,
                meeting,
                parent,
                response,
                asked["child_present"],
                ["a", "b"],
                settings,
                now,
                WEB,
            )
        response_id = response.id
    async with sessions() as session:
        stored = (await session.scalars(select(Answer))).all()
        assert all(b"Koulu" not in (a.value_encrypted or b"") for a in stored)
        response = await session.get(
            QuestionnaireResponse,
            response_id,
            options=[selectinload(QuestionnaireResponse.answers)],
        )
        read = questionnaire.read_answers(response, settings)
    assert read[asked["worries"].id] == words  # the family's words, unchanged
    assert read[asked["going_well"].id] is None  # skipped
    assert asked["change"].id not in read  # the refused answer was not kept


async def test_consent_starts_from_nobody_and_can_be_withdrawn(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session)
        response = await questionnaire.response_for(session, meeting, parent)
        assert questionnaire.readers(response) == set()
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        await questionnaire.set_consent(
            session, meeting, parent, response, teacher.id, True, now, WEB
        )
        assert questionnaire.readers(response) == {teacher.id}
        await questionnaire.set_consent(
            session, meeting, parent, response, teacher.id, False, now, WEB
        )
        assert questionnaire.readers(response) == set()
        family_seat = next(p for p in meeting.participants if p.family_member_id == parent.id)
        with pytest.raises(InvalidInput):
            await questionnaire.set_consent(
                session, meeting, parent, response, family_seat.id, True, now, WEB
            )
        assert await questionnaire.submit(session, meeting, parent, response, now, WEB)
        assert not await questionnaire.submit(session, meeting, parent, response, now, WEB)
    async with sessions() as session:
        actions = [e.action for e in (await session.scalars(select(AuditEvent))).all()]
        details = [e.details for e in (await session.scalars(select(AuditEvent))).all()]
    assert actions == ["consent.change", "consent.change", "answers.submit"]
    assert details == [None, None, None]  # who and what kind of change, never content


async def test_nothing_changes_after_the_summary(sessions: Sessions, database_url: str) -> None:
    settings = settings_for_test(database_url, "http://127.0.0.1:9")
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session)
        start = utcnow() + timedelta(days=10)
        meeting.state, meeting.starts_at = MeetingState.SCHEDULED, start
        meeting.ends_at = start + timedelta(hours=1)
        response = await questionnaire.response_for(session, meeting, parent)
        until = await questionnaire.deadline(session, meeting)
        assert until is not None and until < start
        asked = (await questionnaire.questions(session, response, parent))[0]
        await questionnaire.save_answer(
            session,
            meeting,
            parent,
            response,
            asked,
            "ennen",
            settings,
            until - timedelta(minutes=1),
            WEB,
        )
        with pytest.raises(InvalidInput) as refused:
            await questionnaire.save_answer(
                session, meeting, parent, response, asked, "jälkeen", settings, until, WEB
            )
    assert refused.value.render(translator("sv")).startswith("Svaren kan inte längre ändras")
