"""The one summary: at the summary time each professional the family chose gets a short-lived
link to the family's words (question texts in their own language), everyone else only hears,
neutrally, that the answers are not shared with them; every view is audited; the link ends with
the meeting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.web.app import build_web_app
from scheduling import meetings, questionnaire, summaries
from scheduling.jobs import JobWorker
from scheduling.models import (
    AccessChannel,
    AccessToken,
    ActorKind,
    AuditEvent,
    FamilyRole,
    Organisation,
    TokenPurpose,
    utcnow,
)

from . import factories as f
from .harness import BotHarness
from .test_managing import CONVENER, PRINCIPAL, TEACHER, sisukas

WORDS = "Koulu sujuu.\n<b>Äiti</b> on väsynyt & huolissaan 😊"


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def answered_and_fixed(bot: BotHarness, *, chat_allowed: bool = False) -> int:
    """A guardian answers two questions, lets only the teacher read, submits; the time is
    fixed; the job worker runs at the summary time."""
    settings = bot.services.settings
    meeting_id = await sisukas(bot)
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        guardian = await f.family_member(session, role=FamilyRole.GUARDIAN, locale="fi")
        await f.seat(session, meeting, guardian, role="guardian")
        meeting = await meetings.load(session, meeting_id)
        response = await questionnaire.response_for(session, meeting, guardian)
        asked = {q.key: q for q in await questionnaire.questions(session, response, guardian)}
        web = AccessChannel.WEB
        for key, value in [("worries", WORDS), ("going_well", None)]:
            await questionnaire.save_answer(
                session, meeting, guardian, response, asked[key], value, settings, now, web
            )
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        await questionnaire.set_consent(
            session, meeting, guardian, response, teacher.id, True, now, web
        )
        await questionnaire.submit(session, meeting, guardian, response, now, web)
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, settings, now, by=meeting.convener, confirmed=True
        )
        organisation = await session.get(Organisation, meeting.organisation_id)
        organisation.summary_in_chat_allowed = chat_allowed
        at = await questionnaire.deadline(session, meeting)  # the summary time
    bot.clock.set(at)  # the bot's one clock: workers, handlers, pages
    await JobWorker(bot.services.sessions, settings, clock=bot.services.now).run_once()
    bot.services.outbox_wake.set()
    return meeting_id


async def test_the_chosen_reader_gets_a_link_and_the_others_only_hear_no(
    bot: BotHarness, client: TestClient
) -> None:
    api = bot.api
    meeting_id = await answered_and_fixed(bot)
    message = await api.wait_for_message(TEACHER, "Perheen vastaukset ennen tapaamista")
    assert "Linkki toimii tapaamisen loppuun asti" in message["text"]
    assert "väsynyt" not in message["text"]  # not in the chat unless the county allows it
    principal = await api.wait_for_message(PRINCIPAL, "perheen vastauksia ei jaeta")
    # Neutral: nothing says that the family chose, or chose against, this reader.
    assert principal["text"].endswith(": perheen vastauksia ei jaeta sinulle tässä tapaamisessa.")
    assert "halu" not in principal["text"] and "valitsi" not in principal["text"]
    refused = await api.wait_for_message(CONVENER, "familjens svar delas inte med dig")
    assert refused["text"].endswith(": familjens svar delas inte med dig inför det här mötet.")
    assert "/s/" not in refused["text"]
    assert not any("/s/" in m.get("text", "") for m in api.messages(PRINCIPAL))

    path = re.search(r"/s/[A-Za-z0-9_-]+", message["text"]).group(0)
    page = await client.get(path)
    html = await page.text()
    assert page.status == 200 and '<html lang="fi">' in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "<h1>Perheen vastaukset</h1>" in html
    assert "<dt>Mikä sinua huolestuttaa lapsen koulunkäynnissä tai arjessa?</dt>" in html
    # The family's words as written, as text and never as markup.
    assert "Koulu sujuu.\n&lt;b&gt;Äiti&lt;/b&gt; on väsynyt &amp; huolissaan 😊" in html
    assert "<b>Äiti</b>" not in html
    assert "Ei vastausta" in html  # the skipped question says so
    assert "SS-7" not in html

    async with bot.services.sessions() as session:
        reads = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.meeting_id == meeting_id, AuditEvent.action == "answers.read"
                )
            )
        ).all()
    assert [r.channel for r in reads] == [AccessChannel.WEB]
    assert reads[0].actor_kind == ActorKind.PROFESSIONAL and reads[0].actor_id is not None

    # Another view is another audit row; a made-up link and an expired one show nothing.
    await client.get(path)
    assert (await client.get("/s/" + "A" * 43)).status == 404
    async with bot.services.sessions() as session, session.begin():
        await session.execute(
            update(AccessToken)
            .where(AccessToken.purpose == TokenPurpose.SUMMARY_VIEW)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    gone = await client.get(path)
    assert gone.status == 404 and "väsynyt" not in await gone.text()
    async with bot.services.sessions() as session:
        count = len(
            (
                await session.scalars(select(AuditEvent).where(AuditEvent.action == "answers.read"))
            ).all()
        )
    assert count == 2


async def test_a_county_may_allow_the_summary_in_the_chat(bot: BotHarness) -> None:
    await answered_and_fixed(bot, chat_allowed=True)
    message = await bot.api.wait_for_message(TEACHER, "Perheen vastaukset ennen tapaamista")
    assert WORDS in message["text"]
    assert "\n→ Ei vastausta" in message["text"]
    principal = await bot.api.wait_for_message(PRINCIPAL, "perheen vastauksia ei jaeta")
    assert "väsynyt" not in principal["text"]
    async with bot.services.sessions() as session:
        channels = (
            await session.scalars(
                select(AuditEvent.channel).where(AuditEvent.action == "answers.read")
            )
        ).all()
    assert channels == [AccessChannel.TELEGRAM]


async def test_a_young_person_decides_about_their_own_answers(bot: BotHarness) -> None:
    """The guardian lets the teacher read; the young person, through their own link, lets
    nobody: the teacher reads the guardian's words only."""
    settings = bot.services.settings
    meeting_id = await sisukas(bot)
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        people = [
            await f.family_member(session, role=FamilyRole.GUARDIAN, locale="fi"),
            await f.family_member(session, role=FamilyRole.CHILD, locale="fi"),
        ]
        for person in people:
            await f.seat(session, meeting, person, role="guardian")
        meeting = await meetings.load(session, meeting_id)
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        web = AccessChannel.WEB
        for person, words in zip(people, ["Huoltajan sanat.", "Nuoren omat sanat."], strict=True):
            response = await questionnaire.response_for(session, meeting, person)
            first = (await questionnaire.questions(session, response, person))[0]
            await questionnaire.save_answer(
                session, meeting, person, response, first, words, settings, now, web
            )
            allowed = person.role == FamilyRole.GUARDIAN
            await questionnaire.set_consent(
                session, meeting, person, response, teacher.id, allowed, now, web
            )
            await questionnaire.submit(session, meeting, person, response, now, web)
        shown = await summaries.summary(session, meeting, teacher, "fi", settings, now, web)
    words = [shown_answer.words for family in shown for shown_answer in family.answers]
    assert words == ["Huoltajan sanat."]
