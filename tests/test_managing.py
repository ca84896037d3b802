"""After sending: /tapaamiset and the meeting card, reminding, a co-convener, two people fixing
at once, moving (straight and through a new round), cancelling with a reason, and the next
meeting of a series — with a Swedish-speaking convener and Finnish-speaking participants."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from scheduling import meetings
from scheduling.catalog_data import ensure_defaults
from scheduling.models import (
    CandidateSource,
    Meeting,
    MeetingState,
    MeetingType,
    Professional,
    Sector,
    TelegramUser,
    utcnow,
)

from . import factories as f
from .harness import BotHarness, button, callback_answer

CONVENER, TEACHER, PRINCIPAL, STRANGER = 2001, 2002, 2003, 2009
HELSINKI = ZoneInfo("Europe/Helsinki")


async def sisukas(
    bot: BotHarness, state: MeetingState = MeetingState.COLLECTING, convener_locale: str = "sv"
) -> int:
    """A Sisukas meeting convened by a Swedish-speaking social worker (unless told otherwise),
    sent to the circle; only the teacher must answer."""
    settings = bot.services.settings
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        await ensure_defaults(session)
        org = await f.organisation(session, name="Kuusilahden koulu")
        people = {}
        for uid, name, title, sector, locale in [
            (
                CONVENER,
                "Stina Socialarbetare",
                "socialarbetare",
                Sector.CHILD_PROTECTION,
                convener_locale,
            ),
            (TEACHER, "Olli Opettaja", "luokanopettaja", Sector.SCHOOL, "fi"),
            (PRINCIPAL, "Riitta Rehtori", "rehtori", Sector.SCHOOL, "fi"),
        ]:
            people[uid] = await f.professional(
                session, org, telegram_id=uid, display_name=name, title=title, sector=sector
            )
            (await session.get(TelegramUser, uid)).locale = locale
        kind = await session.scalar(select(MeetingType).where(MeetingType.key == "sisukas"))
        today = now.astimezone(HELSINKI).date()
        meeting = await meetings.start(
            session,
            people[CONVENER],
            kind,
            case_label="SS-7",
            duration_minutes=60,
            place="Skolans mötesrum",
            online_url=None,
            window=(today + timedelta(days=1), today + timedelta(days=14)),
            answer_deadline=now + timedelta(days=3),
            settings=settings,
            now=now,
            convener_role="responsible_social_worker",
        )
        meeting = await meetings.load(session, meeting.id)
        await meetings.seat_professional(
            session, meeting, people[TEACHER], "teacher", required=True
        )
        await meetings.seat_professional(
            session, meeting, people[PRINCIPAL], "principal", required=False
        )
        starts = [
            datetime.combine(today + timedelta(days=d), datetime.min.time(), HELSINKI)
            .replace(hour=10)
            .astimezone(UTC)
            for d in (5, 6, 7)
        ]
        await meetings.set_candidates(
            session, meeting, [(s, CandidateSource.PROPOSED) for s in starts], now
        )
        await meetings.send_for_answers(session, meeting, settings, now)
        if state == MeetingState.HELD:
            meeting.state, meeting.starts_at = MeetingState.HELD, now - timedelta(days=2)
            meeting.ends_at = meeting.starts_at + timedelta(hours=1)
            meeting.fixed_at = meeting.starts_at - timedelta(days=7)
        meeting_id = meeting.id
    bot.services.outbox_wake.set()
    for uid, locale in [
        (CONVENER, convener_locale),
        (TEACHER, "fi"),
        (PRINCIPAL, "fi"),
        (STRANGER, "fi"),
    ]:
        bot.api.user(uid, language_code=locale)
    return meeting_id


async def open_card(bot: BotHarness, uid: int, title: str, expect: str) -> dict:
    api = bot.api
    latest = max((m["message_id"] for m in api.messages(uid)), default=0)
    api.send_text(uid, "/tapaamiset" if uid != CONVENER else "/meetings")
    listing = await api.wait_for_message(uid, title, after=latest)
    api.press(
        uid,
        listing["message_id"],
        listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
    )
    return await api.wait_for_message(uid, expect, after=latest)


async def fix_anyway(
    bot: BotHarness, uid: int, message: dict, data: str, asked: str, confirm: str
) -> str:
    """Press a "fix" button at a time the teacher has not answered: asked about it (`asked`
    names the teacher), confirm (`confirm`); returns the confirming press."""
    api = bot.api
    latest = max(m["message_id"] for m in api.messages(uid))
    api.press(uid, message["message_id"], data)
    question = await api.wait_for_message(uid, asked, after=latest)
    return api.press(uid, question["message_id"], button(question, confirm))


async def state_of(bot: BotHarness, meeting_id: int) -> Meeting:
    async with bot.services.sessions() as session:
        return await session.get(Meeting, meeting_id)


async def test_the_card_reminders_co_convener_and_two_people_fixing_at_once(
    bot: BotHarness,
) -> None:
    api = bot.api
    meeting_id = await sisukas(bot)
    await api.wait_for_message(
        TEACHER, "Stina Socialarbetare kutsuu sinut tapaamiseen: Sisukas – SS-7"
    )

    card = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    assert card["text"].startswith("Sisukas – SS-7\n")
    assert "… lärare: Olli Opettaja (luokanopettaja)" in card["text"]
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == "Påminn dem som inte har svarat" and "Ställ in mötet" in labels

    # A participant's card shows no actions; a stranger gets nothing.
    participant = await open_card(bot, TEACHER, "Tapaamisesi:", "(vastauksia kerätään)")
    assert "reply_markup" not in participant
    api.send_text(STRANGER, "/start")
    own = await api.wait_for_message(STRANGER)
    forged = api.press(STRANGER, own["message_id"], f"card:{meeting_id}", check=False)
    assert (await callback_answer(api, forged))["text"] == "Tämä painike ei ole sinua varten."

    reminded = await callback_answer(
        api, api.press(CONVENER, card["message_id"], button(card, "Påminn dem som inte har svarat"))
    )
    assert reminded["text"] == "Påminde 2 personer."
    await api.wait_for(
        lambda: sum("kutsuu sinut" in m.get("text", "") for m in api.messages(TEACHER)) == 2
    )

    card = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    api.press(CONVENER, card["message_id"], button(card, "Utse en medsammankallare"))
    chooser = await api.wait_for_message(CONVENER, "Vem får bestämma, flytta och ställa in")
    api.press(CONVENER, chooser["message_id"], button(chooser, "Olli Opettaja (luokanopettaja)"))
    await api.wait_for_message(CONVENER, "Olli Opettaja är nu medsammankallare.")
    await api.wait_for_message(TEACHER, "nimesi sinut toiseksi koollekutsujaksi")

    # The convener and the co-convener fix different times at the same moment: one wins.
    # Nobody required has answered yet, so each is asked first, then both confirm at once.
    theirs = await open_card(bot, TEACHER, "Tapaamisesi:", "(vastauksia kerätään)")
    mine = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    fix_mine = mine["reply_markup"]["inline_keyboard"][1][0]
    fix_theirs = theirs["reply_markup"]["inline_keyboard"][2][0]
    assert fix_mine["text"].startswith("Bestäm ") and fix_theirs["text"].startswith("Sovi ")
    latest = {uid: max(m["message_id"] for m in api.messages(uid)) for uid in (CONVENER, TEACHER)}
    api.press(CONVENER, mine["message_id"], fix_mine["callback_data"])
    api.press(TEACHER, theirs["message_id"], fix_theirs["callback_data"])
    asked_me = await api.wait_for_message(
        CONVENER, "Lärare: har inte svarat", after=latest[CONVENER]
    )
    asked_them = await api.wait_for_message(
        TEACHER, "Opettaja ei ole vastannut", after=latest[TEACHER]
    )
    first = api.press(CONVENER, asked_me["message_id"], button(asked_me, "Bekräfta ändå"))
    second = api.press(TEACHER, asked_them["message_id"], button(asked_them, "Vahvista silti"))
    answers = await asyncio.gather(callback_answer(api, first), callback_answer(api, second))
    texts = sorted(a["text"] for a in answers)
    winners = [t for t in texts if t.startswith(("Bestämt: ", "Sovittu: "))]
    losers = [t for t in texts if "redan bestämts" in t or "on jo päätetty" in t]
    assert len(winners) == 1 and len(losers) == 1, texts
    assert (await state_of(bot, meeting_id)).state == MeetingState.SCHEDULED
    await api.wait_for_message(PRINCIPAL, "Aika on sovittu: Sisukas – SS-7")
    async with bot.services.sessions() as session:
        fixed = await session.scalar(
            select(func.count()).select_from(
                select(Meeting.id).where(Meeting.state == MeetingState.SCHEDULED).subquery()
            )
        )
    assert fixed == 1


async def test_moving_straight_then_through_a_new_round_then_cancelling(bot: BotHarness) -> None:
    api = bot.api
    meeting_id = await sisukas(bot)
    await api.wait_for_message(PRINCIPAL, "kutsuu sinut")  # the first round's times arrived
    mine = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    first_time = mine["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    await fix_anyway(bot, CONVENER, mine, first_time, "Lärare: har inte svarat", "Bekräfta ändå")
    await api.wait_for_message(PRINCIPAL, "Aika on sovittu")

    card = await open_card(bot, CONVENER, "Dina möten:", "(tiden bestämd)")
    api.press(CONVENER, card["message_id"], button(card, "Flytta"))
    how = await api.wait_for_message(CONVENER, "Flytta direkt till en ny tid")
    api.press(CONVENER, how["message_id"], button(how, "Direkt till en ny tid"))
    await api.wait_for_message(CONVENER, "Skriv den nya tiden så här")
    api.send_text(CONVENER, "igår kl 10")
    await api.wait_for_message(CONVENER, "Jag kunde inte läsa tiden.")
    api.send_text(CONVENER, "i morgon kl. 13.15")
    await api.wait_for_message(CONVENER, "Flyttat till ")
    moved = await api.wait_for_message(TEACHER, "Tapaaminen on siirretty: Sisukas – SS-7")
    assert "13.15–14.15" in moved["text"]
    assert (await state_of(bot, meeting_id)).ical_sequence == 1

    card = await open_card(bot, CONVENER, "Dina möten:", "(tiden bestämd)")
    api.press(CONVENER, card["message_id"], button(card, "Flytta"))
    how = await api.wait_for_message(CONVENER, "Flytta direkt till en ny tid")
    api.press(CONVENER, how["message_id"], button(how, "En ny svarsomgång"))
    await api.wait_for_message(CONVENER, "Skriv tiderna som ska erbjudas")
    api.send_text(CONVENER, "i morgon kl 9\ni morgon kl 14")
    await api.wait_for_message(CONVENER, "Deltagarna tillfrågas på nytt")
    await api.wait_for(
        lambda: sum("kutsuu sinut" in m.get("text", "") for m in api.messages(PRINCIPAL)) == 2
    )
    assert (await state_of(bot, meeting_id)).state == MeetingState.COLLECTING

    card = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    api.press(CONVENER, card["message_id"], button(card, "Ställ in mötet"))
    await api.wait_for_message(CONVENER, "Varför ställs mötet in?")
    api.send_text(CONVENER, "Barnet har flyttat till en annan kommun.")
    await api.wait_for_message(CONVENER, "Mötet är inställt och alla har fått veta.")
    told = await api.wait_for_message(TEACHER, "Tapaaminen on peruttu: Sisukas – SS-7")
    assert "Syy: Barnet har flyttat till en annan kommun." in told["text"]
    meeting = await state_of(bot, meeting_id)
    assert meeting.state == MeetingState.CANCELLED and meeting.ical_sequence == 2


async def test_the_next_meeting_of_a_series_in_two_taps(bot: BotHarness) -> None:
    api = bot.api
    meeting_id = await sisukas(bot, MeetingState.HELD)
    card = await open_card(bot, CONVENER, "Dina möten:", "(hållet)")
    api.press(CONVENER, card["message_id"], button(card, "Kalla till nästa möte"))  # tap one
    times = await api.wait_for_message(CONVENER, "Nästa möte med samma deltagare:")
    api.press(CONVENER, times["message_id"], button(times, "Skicka till deltagarna"))  # tap two
    await api.wait_for_message(CONVENER, "Skickat.")
    async with bot.services.sessions() as session:
        following = await session.scalar(
            select(Meeting).where(Meeting.previous_meeting_id == meeting_id)
        )
        previous = await session.get(Meeting, meeting_id)
        seats = await meetings.load(session, following.id)
    assert following.state == MeetingState.COLLECTING
    assert following.series_id == previous.series_id is not None
    assert sorted(p.role for p in seats.participants) == sorted(
        ["responsible_social_worker", "teacher", "principal"]
    )
    # Sisukas meets every 2–3 months: the window is 60–90 days after the last meeting.
    held_on = previous.starts_at.astimezone(HELSINKI).date()
    assert following.window_start == held_on + timedelta(days=60)
    assert following.window_end == held_on + timedelta(days=90)
    # The circle is asked about the new times (the held meeting's old invitation was never sent).
    await api.wait_for_message(
        TEACHER, "Stina Socialarbetare kutsuu sinut tapaamiseen: Sisukas – SS-7"
    )
    assert await professional_count(bot) == 3


async def professional_count(bot: BotHarness) -> int:
    async with bot.services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Professional))


async def test_a_revoked_professional_sees_and_hears_nothing_more(bot: BotHarness) -> None:
    from scheduling.professionals import revoke

    api = bot.api
    meeting_id = await sisukas(bot)
    invitation = await api.wait_for_message(TEACHER, "kutsuu sinut tapaamiseen")
    async with bot.services.sessions() as session, session.begin():
        teacher = await session.scalar(
            select(Professional).where(Professional.telegram_user_id == TEACHER)
        )
        await revoke(session, teacher.id, utcnow())
    # Their old buttons answer nothing, and the card is closed to them.
    pressed = api.press(
        TEACHER,
        invitation["message_id"],
        invitation["reply_markup"]["inline_keyboard"][1][0]["callback_data"],
    )
    assert (await callback_answer(api, pressed))["text"] == "Tämä painike ei ole sinua varten."
    card = api.press(TEACHER, invitation["message_id"], f"card:{meeting_id}", check=False)
    assert (await callback_answer(api, card))["text"] == "Tämä painike ei ole sinua varten."
    # When the time is fixed, everyone else is told; they are not.
    mine = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    first_time = mine["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    await fix_anyway(bot, CONVENER, mine, first_time, "Lärare: har inte svarat", "Bekräfta ändå")
    await api.wait_for_message(PRINCIPAL, "Aika on sovittu")
    await api.wait_for(lambda: api.documents(PRINCIPAL))
    assert not any("Aika on sovittu" in m.get("text", "") for m in api.messages(TEACHER))
    assert api.documents(TEACHER) == []
