"""The outbox reaches people: each message in its recipient's language, once, with retries
for passing faults and a clear end for a bot that was blocked."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.delivery import Delivery
from scheduling import outbox
from scheduling.jobs import JobWorker
from scheduling.models import OutboxMessage, OutboxState, TelegramUser
from scheduling.reminders import plan_meeting_jobs

from .harness import BotHarness
from .test_reminders import a_meeting

HELSINKI = ZoneInfo("Europe/Helsinki")
STARTS = datetime(2026, 12, 2, 14, 0, tzinfo=HELSINKI)  # Wednesday


def meet(api, *user_ids: int) -> None:  # type: ignore[no-untyped-def]
    for user_id in user_ids:
        api.user(user_id)


async def outbox_rows(bot: BotHarness) -> list[OutboxMessage]:
    async with bot.services.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_reminders_arrive_in_each_persons_language(bot: BotHarness) -> None:
    # Everything runs on the bot's one clock, whatever the date today: the job worker queues
    # the reminders a day before, and the workers send them as of that day (once).
    meet(bot.api, 7001, 7002, 7003)
    bot.clock.set(STARTS - timedelta(days=2))
    async with bot.services.sessions() as session, session.begin():
        meeting = await a_meeting(session, STARTS, place="Koulun neuvotteluhuone")
        await plan_meeting_jobs(session, meeting, bot.services.settings, now=bot.services.now())
    bot.clock.set(STARTS - timedelta(hours=23))
    await JobWorker(bot.services.sessions, bot.services.settings, clock=bot.services.now).run_once()
    delivery = Delivery(bot.services, bot.application.bot)
    await delivery.run_once()  # the harness's own delivery worker may send some of them
    for chat in (7001, 7002, 7003):
        await bot.api.wait_for(lambda chat=chat: bot.api.messages(chat))
    assert await delivery.run_once() == 0
    assert [len(bot.api.messages(chat)) for chat in (7001, 7002, 7003)] == [1, 1, 1]
    convener = bot.api.messages(7001)[0]["text"]
    assert convener.startswith("Muistutus: Sisukas – Case ")
    assert convener.endswith(
        "ke 2.12.2026 klo 14.00–15.30 (huomenna)\nPaikka: Koulun neuvotteluhuone"
    )
    teacher = bot.api.messages(7002)[0]["text"]
    assert teacher.startswith("Påminnelse: Sisukas – Case ")
    assert teacher.endswith(
        "ons 2.12.2026 kl. 14.00–15.30 (i morgon)\nPlats: Koulun neuvotteluhuone"
    )
    # The guardian reads a neutral heading, without the type or the case label.
    guardian = bot.api.messages(7003)[0]["text"]
    assert guardian.startswith("Påminnelse: Möte\nons 2.12.2026 kl. 14.00–15.30 (i morgon)")
    assert "Sisukas" not in guardian and "Case" not in guardian
    rows = await outbox_rows(bot)
    assert {row.state for row in rows} == {OutboxState.SENT}
    assert all(row.telegram_message_id for row in rows)


async def test_a_message_kind_without_words_is_refused_not_sent(bot: BotHarness) -> None:
    api = bot.api
    meet(api, 7101, 7102, 7103)
    async with bot.services.sessions() as session, session.begin():
        for chat in (7101, 7102, 7103):
            session.add(TelegramUser(id=chat, locale="fi"))
        await session.flush()
        for chat in (7101, 7102, 7103):
            await outbox.tell(session, chat, "plan_prompt_test", "fi", now=bot.services.now())
    # No renderer for that kind: refused for good, nothing sent. (The harness's own worker may
    # take some of the rows first: wait until it has recorded them too.)
    delivery = Delivery(bot.services, bot.application.bot)
    await delivery.run_once()
    for _ in range(100):
        rows = await outbox_rows(bot)
        if all(row.state == OutboxState.FAILED for row in rows):
            break
        await asyncio.sleep(0.05)
    assert {row.last_error for row in rows} == {"no renderer for 'plan_prompt_test'"}
    assert api.calls_to("sendMessage") == []


async def test_a_500_is_retried_later_and_a_blocked_user_is_remembered(bot: BotHarness) -> None:
    api = bot.api
    meet(api, 7001, 7002, 7003)
    # The bot's own clock stays a minute behind: its delivery worker leaves these rows to ours.
    bot.clock.set(bot.services.now())
    now = bot.services.now() + timedelta(minutes=1)
    async with bot.services.sessions() as session, session.begin():
        meeting = await a_meeting(session, STARTS)
        for chat in (7001, 7002, 7003):
            await outbox.tell(
                session, chat, "meeting_reminder", "fi", now=now, meeting_id=meeting.id, hours=1
            )
    api.block(7003, notify=False)
    api.faults = lambda method, params: "500" if params.get("chat_id") == 7001 else None
    delivery = Delivery(bot.services, bot.application.bot, clock=lambda: now)
    await delivery.run_once()
    api.faults = None
    rows = {
        row.telegram_chat_id: row
        for row in await outbox_rows(bot)
        if row.kind == "meeting_reminder"
    }
    assert rows[7001].state == OutboxState.PENDING and rows[7001].attempts == 1
    assert rows[7001].next_attempt_at > now
    assert rows[7002].state == OutboxState.SENT
    assert rows[7003].state == OutboxState.FAILED
    async with bot.services.sessions() as session:
        assert (await session.get(TelegramUser, 7003)).blocked_bot_at is not None
    later = now + timedelta(seconds=10)
    await Delivery(bot.services, bot.application.bot, clock=lambda: later).run_once()
    assert len(api.messages(7002)) == 1
    assert api.messages(7003) == []
    # The convener has the reminder, then — held back until it was sent — word of whom the
    # meeting's messages do not reach.
    reminder, notice = api.messages(7001)
    assert reminder["text"].startswith("Muistutus: ")
    assert notice["text"].startswith("Viesti tapaamisesta Sisukas – Case ")
    assert notice["text"].endswith(
        "ei mennyt Telegramissa perille: huoltaja. Ota häneen yhteyttä muulla tavalla."
    )
