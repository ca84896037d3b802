"""The quorum means something: fixing a time that a required role has not answered, or cannot
make, first asks the convener, naming who and why; they confirm or go back. A time that every
required role said yes to is fixed at once. The domain refuses any other way round."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scheduling import meetings
from scheduling.models import Availability, Meeting, MeetingState, OutboxMessage, utcnow

from .harness import BotHarness, button, callback_answer
from .test_managing import CONVENER, PRINCIPAL, TEACHER, sisukas


async def told_of_the_time(bot: BotHarness) -> int:
    """Outbox rows that tell someone a fixed time: the news and the calendar files."""
    async with bot.services.sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind.in_(["meeting_fixed", "calendar_file", "calendar_email"]))
        )


async def meeting_of(bot: BotHarness, meeting_id: int) -> Meeting:
    async with bot.services.sessions() as session:
        return await session.get(Meeting, meeting_id)


def keys(message: dict) -> list[dict]:
    return [key for row in message["reply_markup"]["inline_keyboard"] for key in row]


def shows(when: str, text: str) -> bool:
    """`when` as a button shows it ("ke 9.12. klo 10.00–11.00") is in `text`, with or without
    the year."""
    day, hours = when.split(" klo ")
    return day in text and f"klo {hours}" in text


def newest(bot: BotHarness, uid: int) -> int:
    return max(m["message_id"] for m in bot.api.messages(uid))


async def test_a_time_the_teacher_has_not_answered_is_fixed_only_once_confirmed(
    bot: BotHarness,
) -> None:
    api = bot.api
    meeting_id = await sisukas(bot, convener_locale="fi")
    await api.wait_for_message(TEACHER, "kutsuu sinut tapaamiseen")
    tally = await api.wait_for_message(CONVENER, "Vastaukset: Sisukas – SS-7")
    recommended = keys(tally)[0]
    assert recommended["text"].startswith("★ Sovi ")

    # Fixing straight from the first tally: the teacher must answer and has not.
    latest = newest(bot, CONVENER)
    api.press(CONVENER, tally["message_id"], recommended["callback_data"])
    question = await api.wait_for_message(CONVENER, "Sovitaanko tapaaminen silti", after=latest)
    when = recommended["text"].removeprefix("★ Sovi ")
    lines = question["text"].splitlines()
    assert lines[0] == "Sisukas – SS-7"
    assert lines[1].startswith("Sovitaanko tapaaminen silti ajalle ") and shows(when, lines[1])
    # Only the teacher: the principal need not come, the convener chose the times.
    assert lines[2:] == ["Opettaja ei ole vastannut"]
    assert [k["text"] for k in keys(question)] == ["Vahvista silti", "Takaisin"]
    assert (await meeting_of(bot, meeting_id)).state == MeetingState.COLLECTING
    assert await told_of_the_time(bot) == 0

    # Back: nothing is fixed, nobody is told, the times are offered again, recommended first.
    back = api.press(CONVENER, question["message_id"], button(question, "Takaisin"))
    assert (await callback_answer(api, back))["text"] == "Aikaa ei sovittu."
    again = await api.wait_for_message(CONVENER, "Aikaa ei sovittu. Valitse aika:")
    assert again["message_id"] == question["message_id"]
    assert [k["text"] for k in keys(again)] == [k["text"] for k in keys(tally)]
    assert (await meeting_of(bot, meeting_id)).state == MeetingState.COLLECTING
    assert await told_of_the_time(bot) == 0
    assert not any("Aika on sovittu" in m.get("text", "") for m in api.messages(PRINCIPAL))

    # The same time again, and this time confirmed: fixed, everyone told.
    latest = newest(bot, CONVENER)
    api.press(CONVENER, again["message_id"], keys(again)[0]["callback_data"])
    asked = await api.wait_for_message(CONVENER, "Opettaja ei ole vastannut", after=latest)
    confirmed = api.press(CONVENER, asked["message_id"], button(asked, "Vahvista silti"))
    assert (await callback_answer(api, confirmed))["text"].startswith("Sovittu: ")
    for uid in (TEACHER, PRINCIPAL):
        told = await api.wait_for_message(uid, "Aika on sovittu: Sisukas – SS-7")
        assert shows(when, told["text"])
    assert (await meeting_of(bot, meeting_id)).state == MeetingState.SCHEDULED
    assert await told_of_the_time(bot) == 6  # the news and a calendar file, to each of three


async def test_a_no_from_the_teacher_is_named_and_their_yes_fixes_at_once(bot: BotHarness) -> None:
    api = bot.api
    meeting_id = await sisukas(bot, convener_locale="fi")
    invitation = await api.wait_for_message(TEACHER, "kutsuu sinut tapaamiseen")
    rows = invitation["reply_markup"]["inline_keyboard"]  # a time, then yes / maybe / no
    first, second = rows[0][0]["text"], rows[2][0]["text"]
    # No to the first time, yes to the second, maybe to the third.
    for row, choice in ((rows[1], 2), (rows[3], 0), (rows[5], 1)):
        api.press(TEACHER, invitation["message_id"], row[choice]["callback_data"])
    offer = await api.wait_for_message(CONVENER, "Kaikki, joiden pitää vastata, ovat vastanneet")
    assert second in offer["text"]  # the time the teacher can make is the recommended one
    tally = await api.wait_for_message(CONVENER, "Vastaukset: Sisukas – SS-7")

    def tally_now() -> dict:
        return next(m for m in api.messages(CONVENER) if m["message_id"] == tally["message_id"])

    await api.wait_for(lambda: keys(tally_now())[0]["text"] == f"★ Sovi {second}")

    # The first time, which the teacher cannot make: asked, saying who and why.
    latest = newest(bot, CONVENER)
    api.press(CONVENER, tally["message_id"], button(tally_now(), f"Sovi {first}"))
    question = await api.wait_for_message(CONVENER, "Sovitaanko tapaaminen silti", after=latest)
    assert question["text"].splitlines()[2:] == ["Opettaja: ei käy"]
    api.press(CONVENER, question["message_id"], button(question, "Takaisin"))
    await api.wait_for_message(CONVENER, "Aikaa ei sovittu. Valitse aika:")
    assert await told_of_the_time(bot) == 0

    # The recommended time, which every required role said yes to: fixed at once, no question.
    latest = newest(bot, CONVENER)
    fixed = api.press(CONVENER, offer["message_id"], keys(offer)[0]["callback_data"])
    assert (await callback_answer(api, fixed))["text"].startswith("Sovittu: ")
    told = await api.wait_for_message(PRINCIPAL, "Aika on sovittu: Sisukas – SS-7")
    assert shows(second, told["text"])
    assert not any(
        "Sovitaanko" in m.get("text", "")
        for m in api.messages(CONVENER)
        if m["message_id"] > latest
    )
    assert (await meeting_of(bot, meeting_id)).state == MeetingState.SCHEDULED


async def test_the_domain_refuses_to_fix_over_the_quorum_unless_confirmed(bot: BotHarness) -> None:
    """Whatever asks (a forged button, the deadline's offer, a new round), meetings.fix itself
    says who is missing; and a new round's times need new answers."""
    meeting_id = await sisukas(bot)
    settings, now = bot.services.settings, utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        first, *_ = meetings.current_candidates(meeting)
        with pytest.raises(meetings.QuorumNotMet) as refused:
            await meetings.fix(
                session, meeting, first.starts_at, settings, now, by=meeting.convener
            )
        assert [(g.seat.id, g.answer) for g in refused.value.gaps] == [(teacher.id, None)]
        assert meeting.state == MeetingState.COLLECTING and meeting.starts_at is None
        await meetings.answer(session, meeting, teacher, first.id, Availability.NO, now)
        gaps = await meetings.quorum_gaps(session, meeting, first.starts_at)
        assert [(g.seat.id, g.answer) for g in gaps] == [(teacher.id, Availability.NO)]
        await meetings.answer(session, meeting, teacher, first.id, Availability.YES, now)
        await meetings.fix(session, meeting, first.starts_at, settings, now, by=meeting.convener)
        assert meeting.state == MeetingState.SCHEDULED

        # Moved through a new round: the teacher's yes was to the old time, not the new ones.
        new = first.starts_at + timedelta(days=1)
        await meetings.ask_again(session, meeting, [new], settings, now, by=meeting.convener)
        with pytest.raises(meetings.QuorumNotMet) as refused:
            await meetings.fix(session, meeting, new, settings, now, by=meeting.convener)
        assert [(g.seat.id, g.answer) for g in refused.value.gaps] == [(teacher.id, None)]
        await meetings.fix(
            session, meeting, new, settings, now, by=meeting.convener, confirmed=True
        )
        assert meeting.state == MeetingState.SCHEDULED and meeting.starts_at == new


async def test_a_confirmation_from_a_past_round_fixes_nothing(bot: BotHarness) -> None:
    """The convener was asked about a time, then the meeting went through a new round: the old
    question's "confirm" no longer fixes the old time."""
    api = bot.api
    meeting_id = await sisukas(bot, convener_locale="fi")
    tally = await api.wait_for_message(CONVENER, "Vastaukset: Sisukas – SS-7")
    latest = newest(bot, CONVENER)
    api.press(CONVENER, tally["message_id"], keys(tally)[0]["callback_data"])
    question = await api.wait_for_message(CONVENER, "Opettaja ei ole vastannut", after=latest)

    settings, now = bot.services.settings, utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        first, *_ = meetings.current_candidates(meeting)
        await meetings.fix(
            session, meeting, first.starts_at, settings, now, by=meeting.convener, confirmed=True
        )
        new = first.starts_at + timedelta(days=1)
        await meetings.ask_again(session, meeting, [new], settings, now, by=meeting.convener)

    stale = api.press(CONVENER, question["message_id"], button(question, "Vahvista silti"))
    assert (await callback_answer(api, stale))["text"] == "Tämä painike ei ole enää voimassa."
    assert (await meeting_of(bot, meeting_id)).state == MeetingState.COLLECTING
