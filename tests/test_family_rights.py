"""The family's rights over their data: change who may read at any time (the reader loses
access at once), download everything, delete the answers for real — on the page (in Swedish)
and in the chat (in Finnish)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.web.app import build_web_app
from scheduling import meetings, questionnaire
from scheduling.jobs import JobWorker
from scheduling.models import (
    AccessChannel,
    Answer,
    AuditEvent,
    QuestionnaireResponse,
    TelegramUser,
    utcnow,
)

from .factories import guardian_seat
from .harness import BotHarness, button
from .test_managing import TEACHER, sisukas

WORDS = "Vi är trötta men hoppfulla."
GUARDIAN = 2005


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def shared_with_the_teacher(bot: BotHarness, *, telegram: bool) -> tuple[int, str]:
    """A guardian answers, lets the teacher read and sends; the time is fixed and the summary
    goes out. Returns the meeting and the guardian's web link."""
    settings = bot.services.settings
    meeting_id = await sisukas(bot)
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        opened = await guardian_seat(session, meeting, "sv", now)
        view = await meetings.family_view(session, opened.web_token, now)
        member = view.seat.family_member
        if telegram:
            session.add(TelegramUser(id=GUARDIAN, locale="fi"))
            member.telegram_user_id, member.locale = GUARDIAN, "fi"
        meeting = view.meeting
        response = await questionnaire.response_for(session, meeting, member)
        asked = {q.key: q for q in await questionnaire.questions(session, response, member)}
        web = AccessChannel.WEB
        await questionnaire.save_answer(
            session, meeting, member, response, asked["worries"], WORDS, settings, now, web
        )
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        await questionnaire.set_consent(
            session, meeting, member, response, teacher.id, True, now, web
        )
        await questionnaire.submit(session, meeting, member, response, now, web)
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, settings, now, by=meeting.convener, confirmed=True
        )
        at = await questionnaire.deadline(session, meeting)
    bot.clock.set(at)  # the bot's one clock: workers, handlers, pages
    await JobWorker(bot.services.sessions, settings, clock=bot.services.now).run_once()
    bot.services.outbox_wake.set()
    return meeting_id, opened.web_token


async def teachers_link(bot: BotHarness) -> str:
    message = await bot.api.wait_for_message(TEACHER, "Perheen vastaukset ennen tapaamista")
    return re.search(r"/s/[A-Za-z0-9_-]+", message["text"]).group(0)


async def test_on_the_page_in_swedish(bot: BotHarness, client: TestClient) -> None:
    _, token = await shared_with_the_teacher(bot, telegram=False)
    link = await teachers_link(bot)
    assert WORDS in await (await client.get(link)).text()

    page = await (await client.get(f"/f/{token}")).text()
    assert "Dina uppgifter: se, ladda ner eller radera" in page
    data = await (await client.get(f"/f/{token}/data")).text()
    assert "<h1>Dina uppgifter</h1>" in data
    csrf = re.search(r'name="csrf" value="([^"]+)"', data).group(1)

    # Taking the teacher away works after the sharing too, and at once.
    taken = await client.post(f"/f/{token}/consent", data={"csrf": csrf}, allow_redirects=False)
    assert taken.status == 303
    now_page = await (await client.get(link)).text()
    assert WORDS not in now_page
    assert "Perheen vastauksia ei jaeta sinulle tässä tapaamisessa." in now_page

    download = await client.get(f"/f/{token}/kerralla-my-data.json")
    assert download.headers["Content-Disposition"].startswith("attachment")
    everything = json.loads(await download.text())
    answers = everything["questionnaires"][0]["answers"]
    assert any(
        a["answer"] == WORDS and a["question"].startswith("Vad oroar") and a["language"] == "sv"
        for a in answers
    )
    readers = everything["questionnaires"][0]["may_read"]
    assert any(r["role"] == "lärare" and r["granted"] is False for r in readers)
    trail = everything["who_read_or_changed_your_answers"]
    assert {"by": "professional", "action": "answers.read", "channel": "web"}.items() <= next(
        e for e in trail if e["by"] == "professional"
    ).items()
    assert "SS-7" not in await download.text()

    unconfirmed = await client.post(f"/f/{token}/data", data={"csrf": csrf})
    assert "Kryssa i rutan" in await unconfirmed.text()
    deleted = await client.post(f"/f/{token}/data", data={"csrf": csrf, "confirm": "yes"})
    assert "Dina svar har raderats." in await deleted.text()
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 0
        assert await session.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0
        gone = await session.scalar(select(AuditEvent).where(AuditEvent.action == "answers.delete"))
    assert gone is not None and gone.details is None


async def test_in_the_chat_in_finnish(bot: BotHarness, client: TestClient) -> None:
    api = bot.api
    api.user(GUARDIAN, language_code="fi")
    meeting_id, _ = await shared_with_the_teacher(bot, telegram=True)
    link = await teachers_link(bot)

    async def tap(message: dict, label: str, expect: str) -> dict:
        latest = max(m["message_id"] for m in api.messages(GUARDIAN))
        api.press(GUARDIAN, message["message_id"], button(message, label))
        return await api.wait_for(
            lambda: next(
                (
                    m
                    for m in reversed(api.messages(GUARDIAN))
                    if expect in (m.get("text") or m.get("caption") or "")
                    and (m["message_id"] > latest or m["message_id"] == message["message_id"])
                ),
                None,
            )
        )

    api.send_text(GUARDIAN, "/tapaamiset")
    listing = await api.wait_for_message(GUARDIAN, "Tapaamisesi:")
    card = await tap(
        listing, listing["reply_markup"]["inline_keyboard"][0][0]["text"], "Tapaaminen"
    )
    menu = await tap(card, "Omat tietoni", "Omat tietosi:")

    document = await tap(menu, "Lataa tietoni", "Kaikki, mitä Kerrallassa on sinusta.")
    everything = json.loads(api.documents(GUARDIAN)[-1]["data"])
    assert any(a["answer"] == WORDS for a in everything["questionnaires"][0]["answers"])
    assert document

    readers = await tap(menu, "Kuka saa lukea vastauksesi", "Kuka saa lukea vastauksesi?")
    chosen = next(
        b["text"]
        for row in readers["reply_markup"]["inline_keyboard"]
        for b in row
        if "☑" in b["text"]
    )
    assert chosen.startswith("☑ opettaja, ") or chosen.startswith("☑ Opettaja, ")
    await tap(readers, chosen, "Kuka saa lukea")
    await api.wait_for(
        lambda: (
            all(
                "☑" not in b["text"]
                for row in api.messages(GUARDIAN)[-1]["reply_markup"]["inline_keyboard"]
                for b in row
            )
            or None
        )
    )
    assert "Perheen vastauksia ei jaeta sinulle" in await (await client.get(link)).text()

    ask = await tap(menu, "Poista vastaukseni", "Poistetaanko vastauksesi?")
    await tap(ask, "Kyllä, poista vastaukseni", "Vastauksesi on poistettu.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 0
    assert meeting_id
