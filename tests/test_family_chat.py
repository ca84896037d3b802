"""The family's questions in Telegram: a guardian opens their link, chooses Swedish, chooses who
may read, answers, skips, goes back, reviews and sends; the same record as the web page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from scheduling import meetings, questionnaire
from scheduling.jobs import JobWorker
from scheduling.models import (
    QuestionnaireResponse,
    ResponseState,
    TelegramUser,
    utcnow,
)

from . import factories as f
from .factories import guardian_seat
from .harness import BotHarness, button
from .test_managing import CONVENER, sisukas

GUARDIAN = 2005


async def test_a_guardian_answers_in_the_chat(bot: BotHarness) -> None:
    api = bot.api
    meeting_id = await sisukas(bot)
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        opened = await guardian_seat(session, meeting, "fi", utcnow())
    api.user(GUARDIAN, first_name="Maija", last_name="Meikäläinen", language_code="fi")
    api.send_text(GUARDIAN, f"/start {opened.telegram_token}")
    joined = await api.wait_for_message(GUARDIAN, "Olet nyt mukana tapaamisessa")

    async def tap(message: dict, label: str, expect: str) -> dict:
        """Press a button; the next message (or edit) whose text or buttons show `expect`."""
        api.press(GUARDIAN, message["message_id"], button(message, label))

        def shown() -> dict | None:
            for candidate in reversed(api.messages(GUARDIAN)):
                keys = [
                    b["text"]
                    for row in candidate.get("reply_markup", {}).get("inline_keyboard", [])
                    for b in row
                ]
                changed = candidate != message  # a new message, or this one edited
                if changed and (
                    expect in candidate.get("text", "") or any(expect in k for k in keys)
                ):
                    return candidate
            return None

        return await api.wait_for(shown)

    languages = await tap(joined, "Vastaa kysymyksiin", "Millä kielellä?")
    intro = await tap(languages, "svenska", "Några frågor före mötet hjälper alla")
    assert "Dina svar raderas 30 dagar efter mötet." in intro["text"]
    readers = await tap(intro, "Fortsätt", "Vem får läsa dina svar?")
    labels = [b["text"] for row in readers["reply_markup"]["inline_keyboard"] for b in row]
    assert all(label.startswith("☐ ") for label in labels[:-1])  # nobody beforehand
    teacher = next(label for label in labels if "lärare" in label)
    readers = await tap(readers, teacher, "☑ lärare")
    question = await tap(readers, "Fortsätt till frågorna", "Fråga 1 av 8")

    api.send_text(GUARDIAN, "Hon trivs i skolan nu.")
    question = await api.wait_for_message(GUARDIAN, "Fråga 2 av 8")
    question = await tap(question, "Hoppa över", "Fråga 3 av 8")
    # A several-choices question: two options, then on.
    options = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    question = await tap(question, options[0], "☑ ")
    question = await tap(question, options[1], options[1].replace("☐ ", "☑ "))
    question = await tap(question, "Spara och fortsätt", "Fråga 4 av 8")
    question = await tap(question, "Tillbaka", "Fråga 3 av 8")
    assert (
        sum(
            b["text"].startswith("☑ ")
            for row in question["reply_markup"]["inline_keyboard"]
            for b in row
        )
        == 2
    )  # what was chosen is still there
    # Over the rest, to the review.
    for number in range(3, 9):
        question = await tap(
            question, "Hoppa över", f"Fråga {number + 1} av 8" if number < 8 else "Dina svar:"
        )
    review = question
    assert "1. " in review["text"] and "→ Hon trivs i skolan nu." in review["text"]
    assert "Du valde 1 person som får läsa dina svar." in review["text"]
    thanks = await tap(review, "Skicka mina svar", "Tack! Dina svar är sparade")
    assert "/moten" in thanks["text"]

    async with bot.services.sessions() as session:
        response = await session.scalar(
            select(QuestionnaireResponse).options(
                selectinload(QuestionnaireResponse.answers),
                selectinload(QuestionnaireResponse.consents),
            )
        )
        read = questionnaire.read_answers(response, bot.services.settings)
    assert response.state == ResponseState.SUBMITTED
    assert "Hon trivs i skolan nu." in read.values()
    assert sum(c.granted for c in response.consents) == 1
    assert CONVENER  # the convener's circle is the one from test_managing


async def test_the_reminder_opens_the_questions(bot: BotHarness) -> None:
    """A guardian who has not answered is reminded before the summary, with a button to start."""
    api = bot.api
    api.user(GUARDIAN, language_code="fi")
    settings = bot.services.settings
    meeting_id = await sisukas(bot)
    async with bot.services.sessions() as session, session.begin():
        session.add(TelegramUser(id=GUARDIAN, locale="fi"))
        guardian = await f.family_member(session, locale="fi", telegram_user_id=GUARDIAN)
        meeting = await meetings.load(session, meeting_id)
        await f.seat(session, meeting, guardian, role="guardian")
        meeting = await meetings.load(session, meeting_id)
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, settings, utcnow(), by=meeting.convener, confirmed=True
        )
        at = await questionnaire.deadline(session, meeting) - timedelta(
            days=settings.family_reminder_days
        )
    bot.clock.set(at)  # the bot's one clock: workers, handlers, pages
    await JobWorker(bot.services.sessions, settings, clock=bot.services.now).run_once()
    bot.services.outbox_wake.set()
    reminder = await api.wait_for_message(GUARDIAN, "Et ole vielä vastannut")
    api.press(GUARDIAN, reminder["message_id"], button(reminder, "Vastaa kysymyksiin"))
    await api.wait_for_message(GUARDIAN, "Millä kielellä?")
