"""The joint plan: after the meeting the convener is prompted, records items of what, who and
by when, sends the plan to the circle and the family in their languages, copies it as text;
nobody else can touch it, and the family sees it on their own page too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web.app import build_web_app
from scheduling import meetings
from scheduling.jobs import JobWorker
from scheduling.models import AuditEvent, FamilyRole, PlanItem, TelegramUser, utcnow

from . import factories as f
from .harness import BotHarness, button, callback_answer
from .test_managing import CONVENER, PRINCIPAL, TEACHER, sisukas

GUARDIAN = 2005
ITEM = "Koulu järjestää tukiopetusta <b>kaksi</b> kertaa viikossa"


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def held(bot: BotHarness) -> tuple[int, str]:
    """A fixed Sisukas meeting with a guardian in Telegram; the job worker runs at its end."""
    settings = bot.services.settings
    meeting_id = await sisukas(bot)
    async with bot.services.sessions() as session, session.begin():
        session.add(TelegramUser(id=GUARDIAN, locale="fi"))
        guardian = await f.family_member(
            session, role=FamilyRole.GUARDIAN, locale="fi", telegram_user_id=GUARDIAN
        )
        meeting = await meetings.load(session, meeting_id)
        await f.seat(session, meeting, guardian, role="guardian")
        meeting = await meetings.load(session, meeting_id)
        opened = await meetings.open_seat(
            session,
            meeting,
            "guardian",
            family_role=FamilyRole.GUARDIAN,
            required=False,
            locale="fi",
            now=utcnow(),
        )
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, settings, utcnow(), by=meeting.convener, confirmed=True
        )
        ends = meeting.ends_at
    bot.clock.set(ends)  # the bot's one clock: workers, handlers, pages
    await JobWorker(bot.services.sessions, settings, clock=bot.services.now).run_once()
    bot.services.outbox_wake.set()
    return meeting_id, opened.web_token


async def test_the_convener_records_and_sends_the_joint_plan(
    bot: BotHarness, client: TestClient
) -> None:
    api = bot.api
    api.user(GUARDIAN, language_code="fi")
    meeting_id, web_token = await held(bot)
    prompt = await api.wait_for_message(CONVENER, "Mötet har hållits")

    async def press(message: dict, label: str, expect: str) -> dict:
        latest = max(m["message_id"] for m in api.messages(CONVENER))
        api.press(CONVENER, message["message_id"], button(message, label))
        return await api.wait_for_message(CONVENER, expect, after=latest)

    async def write(text: str, expect: str) -> dict:
        latest = max(m["message_id"] for m in api.messages(CONVENER))
        api.send_text(CONVENER, text)
        return await api.wait_for_message(CONVENER, expect, after=latest)

    overview = await press(prompt, "Skriv in den gemensamma planen", "Inga punkter ännu.")
    assert [b["text"] for row in overview["reply_markup"]["inline_keyboard"] for b in row] == [
        "Lägg till en punkt",
        "Kalla till nästa möte",
    ]
    await press(overview, "Lägg till en punkt", "Vad ska göras?")
    await write("   ", "Skriv vad som ska göras.")
    await write("x" * 501, "Skriv högst 500 tecken.")
    await write(ITEM, "Vem gör det?")
    await write("klassläraren", "Till när?")
    await write("nästa vecka kanske", "18.12.2026")  # the date example, nothing saved
    overview = await write("15.1.", "Tillagd.")
    assert f"1. {ITEM}" in overview["text"] and "Vem: klassläraren" in overview["text"]
    assert "Senast: " in overview["text"] and "15.1." in overview["text"]
    asked = await press(overview, "Lägg till en punkt", "Vad ska göras?")
    assert asked
    who = await write("Familjen besöker familjecentret", "Vem gör det?")
    when = await press(who, "Hoppa över", "Till när?")
    overview = await press(when, "Hoppa över", "Tillagd.")
    assert "2. Familjen besöker familjecentret" in overview["text"]

    sent = await press(
        overview, "Skicka planen till nätverket och familjen", "Planen skickades till 4 personer"
    )
    assert "Familjen ser den också på sin egen sida." in sent["text"]
    for uid in (TEACHER, PRINCIPAL):
        plan = await api.wait_for_message(uid, "Yhteinen suunnitelma")
        assert "SS-7" in plan["text"] and f"1. {ITEM}" in plan["text"]
        assert "Kuka: klassläraren" in plan["text"] and "Mihin mennessä: " in plan["text"]
    family = await api.wait_for_message(GUARDIAN, "Yhteinen suunnitelma")
    assert "Tapaaminen" in family["text"] and "SS-7" not in family["text"]
    assert "2. Familjen besöker familjecentret" in family["text"]

    copied = await press(overview, "Som text att kopiera", "Gemensam plan")
    assert copied["text"].startswith("Gemensam plan\nSisukas")
    assert f"1. {ITEM}\n   Vem: klassläraren\n   Senast: " in copied["text"]

    # The family's page shows it, as text and never as markup.
    html = await (await client.get(f"/f/{web_token}")).text()
    assert '<h2 id="plan">Yhteinen suunnitelma</h2>' in html
    assert "tukiopetusta &lt;b&gt;kaksi&lt;/b&gt;" in html and "Kuka: klassläraren" in html

    async with bot.services.sessions() as session:
        items = (await session.scalars(select(PlanItem))).all()
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.meeting_id == meeting_id)
            )
        ).all()
    assert len(items) == 2 and all(b"tukiopetusta" not in i.what_encrypted for i in items)
    assert {"plan.write", "plan.share", "plan.export"} <= set(actions)


async def refused(bot: BotHarness, uid: int, meeting_id: int, expect: str) -> None:
    """Pressing a forged plan button under the person's meeting list: an alert, no change."""
    api = bot.api
    latest = max((m["message_id"] for m in api.messages(uid)), default=0)
    api.send_text(uid, "/tapaamiset")
    listing = await api.wait_for_message(
        uid, "Tapaamisesi:" if uid != CONVENER else "", after=latest
    )
    query = api.press(uid, listing["message_id"], f"plan:{meeting_id}", check=False)
    answer = await callback_answer(api, query)
    assert answer["text"] == expect and answer["show_alert"]
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(PlanItem))).all() == []


async def test_only_the_conveners_can_touch_the_plan(bot: BotHarness) -> None:
    meeting_id, _ = await held(bot)
    await bot.api.wait_for_message(CONVENER, "Mötet har hållits")
    await refused(bot, TEACHER, meeting_id, "Tämä painike ei ole sinua varten.")


async def test_no_plan_before_the_meeting(bot: BotHarness) -> None:
    meeting_id = await sisukas(bot)
    await refused(
        bot,
        CONVENER,
        meeting_id,
        "Den gemensamma planen kan skrivas in när mötet har hållits.",
    )
