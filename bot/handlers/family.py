"""The family's questions in Telegram: language → what happens → who may read → the questions
one by one (skip and back) → review → send. The same record as the web page; changeable until
the summary is shared. Nobody is chosen to read beforehand."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import meetings, questionnaire
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import FAMILY_LANGUAGES, Translator, translator
from scheduling.models import (
    AccessChannel,
    Meeting,
    Organisation,
    Professional,
    QuestionKind,
    ResponseState,
    TelegramUser,
)

from ..commands import CANCEL, MEETINGS
from ..context import Context, services, translator_for
from ..messages import in_language

LANGUAGE, INTRO, READERS, QUESTION, REVIEW = range(5)
CHAT = AccessChannel.TELEGRAM
CHOICES = FAMILY_LANGUAGES
PREVIEW = 300  # characters of each answer shown in the review


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def state(context: Context) -> dict[str, Any]:
    return context.user_data.setdefault("family", {})


async def say(update: Update, text: str, buttons: InlineKeyboardMarkup | None = None) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text, reply_markup=buttons)
    else:
        await update.effective_message.reply_text(text, reply_markup=buttons)


class Gone(Exception):
    """The link, the seat or the meeting is not there any more."""


async def load(update: Update, context: Context, session: Any) -> tuple[Any, Any, Any, Translator]:
    """The meeting, the member and their response, and the member's translator."""
    meeting = await meetings.load(session, state(context).get("meeting", 0))
    seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
    if seat is None or seat.family_member is None:
        raise Gone
    member = seat.family_member
    response = await questionnaire.response_for(session, meeting, member)
    if response is None:
        raise Gone
    return meeting, member, response, translator(member.locale, meeting.time_zone)


def step(
    handler: Callable[[Update, Context], Awaitable[int]],
) -> Callable[[Update, Context], Awaitable[int]]:
    """A conversation step: if the link, seat or meeting is gone, say so and end — after the
    step's database sessions have closed."""

    @functools.wraps(handler)
    async def run(update: Update, context: Context, *args: Any, **kwargs: Any) -> int:
        try:
            return await handler(update, context, *args, **kwargs)
        except Gone:
            return await gone(update, context)

    return run


async def gone(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("family", None)
    if update.callback_query is not None:
        await update.callback_query.answer(
            t.gettext("This button is no longer valid."), show_alert=True
        )
    else:
        await update.effective_message.reply_text(t.gettext("This button is no longer valid."))
    return ConversationHandler.END


# -- language and what happens ---------------------------------------------------------------


@step
async def begin(update: Update, context: Context) -> int:
    state(context).clear()
    state(context)["meeting"] = int(update.callback_query.data.split(":")[2])
    async with services(context).sessions() as session:
        await load(update, context, session)
    await say(
        update,
        "Millä kielellä? · På vilket språk? · Which language?",
        keyboard([[(name, f"fq:lang:{code}")] for code, name in CHOICES]),
    )
    return LANGUAGE


@step
async def chose_language(update: Update, context: Context) -> int:
    code = update.callback_query.data.split(":", 2)[2]
    svc = services(context)
    async with transaction(svc.sessions) as session:
        meeting, member, _response, _ = await load(update, context, session)
        member.plain_language = code == "fi-selko"
        member.locale = "fi" if code == "fi-selko" else code
        user = await session.get(TelegramUser, update.effective_user.id)
        user.locale = member.locale
        t = translator(member.locale, meeting.time_zone)
        until = await questionnaire.deadline(session, meeting)
    lines = [
        t.gettext(
            "Before the meeting, a few questions help everyone prepare, so that you need to "
            "tell your story only once. Every question can be skipped."
        ),
        t.gettext(
            "Only the people you choose may read your answers, the day before the meeting. "
            "You can change your answers and your choice later."
        ),
        t.ngettext(
            "Your answers are deleted {n} day after the meeting.",
            "Your answers are deleted {n} days after the meeting.",
            svc.settings.retention_answers_days,
        ),
    ]
    if until is not None:
        lines.append(
            t.gettext("You can change your answers until {deadline}.", deadline=t.datetime(until))
        )
    await say(update, "\n\n".join(lines), keyboard([[(t.gettext("Continue"), "fq:intro")]]))
    return INTRO


# -- who may read -----------------------------------------------------------------------------


async def reader_labels(session: AsyncSession, meeting: Meeting, t: Translator) -> dict[int, str]:
    """The professionals' seats as the family sees them: by role and organisation."""
    roles = {r.key: in_language(r.names, t.locale) for r in meeting.meeting_type.roles}
    labels = {}
    for seat in meeting.participants:
        if seat.professional_id:
            professional = await session.get(Professional, seat.professional_id)
            organisation = await session.get(Organisation, professional.organisation_id)
            place = f", {organisation.name}" if organisation else ""
            labels[seat.id] = roles.get(seat.role, seat.role) + place
    return labels


@step
async def show_readers(update: Update, context: Context) -> int:
    async with services(context).sessions() as session:
        meeting, _member, response, t = await load(update, context, session)
        chosen = questionnaire.readers(response)
        labels = await reader_labels(session, meeting, t)
    rows = [
        [(("☑ " if seat_id in chosen else "☐ ") + label, f"fq:who:{seat_id}")]
        for seat_id, label in labels.items()
    ]
    rows.append([(t.gettext("Continue to the questions"), "fq:q:1")])
    await say(
        update,
        t.gettext(
            "Who may read your answers? Tap to choose; tap again to take "
            "back. Nobody is chosen beforehand."
        ),
        keyboard(rows),
    )
    return READERS


@step
async def toggle_reader(update: Update, context: Context) -> int:
    seat_id = int(update.callback_query.data.split(":")[2])
    async with transaction(services(context).sessions) as session:
        meeting, member, response, t = await load(update, context, session)
        try:
            granted = seat_id not in questionnaire.readers(response)
            await questionnaire.set_consent(
                session, meeting, member, response, seat_id, granted, services(context).now(), CHAT
            )
        except InvalidInput as error:
            await update.callback_query.answer(error.render(t), show_alert=True)
            return READERS
    return await show_readers(update, context)


# -- the questions ---------------------------------------------------------------------------


@step
async def show_question(
    update: Update, context: Context, number: int | None = None, note: str = ""
) -> int:
    if number is None:
        number = int(update.callback_query.data.split(":")[2])
    async with services(context).sessions() as session:
        _meeting, member, response, t = await load(update, context, session)
        asked = await questionnaire.questions(session, response, member)
        if number > len(asked):  # past the last (or none for this member): the review
            question = None
        else:
            number = max(number, 1)
            question = asked[number - 1]
            saved = questionnaire.read_answers(response, services(context).settings).get(
                question.id
            )
    if question is None:
        return await show_review(update, context)
    state(context)["number"] = number
    lines = [
        t.gettext("Question {number} of {total}", number=number, total=len(asked)),
        question.text,
    ]
    if question.help:
        lines.append(question.help)
    rows: list[list[tuple[str, str]]] = []
    if question.kind == QuestionKind.FREE_TEXT:
        if saved:
            lines.append(t.gettext("Your answer now: {answer}", answer=str(saved)[:PREVIEW]))
        lines.append(t.gettext("Write your answer as a message."))
    else:
        picked = set(saved or [])
        for key, label in question.options:
            mark = (
                ("● " if key in picked else "○ ")
                if question.kind == QuestionKind.ONE_CHOICE
                else ("☑ " if key in picked else "☐ ")
            )
            rows.append([(mark + label, f"fq:opt:{number}:{key}"[:64])])
        if question.kind == QuestionKind.SEVERAL_CHOICES:
            rows.append([(t.gettext("Save and continue"), f"fq:q:{number + 1}")])
    rows.append(
        [
            (t.gettext("Skip"), f"fq:skip:{number}"),
            (t.gettext("Back"), f"fq:q:{number - 1}" if number > 1 else "fq:intro"),
        ]
    )
    text = "\n\n".join(([note] if note else []) + lines)
    await say(update, text[:4096], keyboard(rows))
    return QUESTION


async def save(
    update: Update, context: Context, value: Any, *, number: int, toggle: str | None = None
) -> int:
    svc = services(context)
    async with transaction(svc.sessions) as session:
        meeting, member, response, t = await load(update, context, session)
        asked = await questionnaire.questions(session, response, member)
        if not 1 <= number <= len(asked):
            raise Gone
        question = asked[number - 1]
        if toggle is not None:  # a several-choices option: add or take away
            current = set(questionnaire.read_answers(response, svc.settings).get(question.id) or [])
            value = sorted(current ^ {toggle})
        try:
            await questionnaire.save_answer(
                session, meeting, member, response, question, value, svc.settings, svc.now(), CHAT
            )
        except InvalidInput as error:
            if update.callback_query is not None:
                await update.callback_query.answer(error.render(t), show_alert=True)
            else:
                await update.effective_message.reply_text(error.render(t))
            return QUESTION
    stay = toggle is not None and question.kind == QuestionKind.SEVERAL_CHOICES
    return await show_question(update, context, number if stay else number + 1)


@step
async def typed(update: Update, context: Context) -> int:
    number = state(context).get("number", 1)
    return await save(update, context, update.effective_message.text or "", number=number)


@step
async def option(update: Update, context: Context) -> int:
    _, _, number, key = update.callback_query.data.split(":", 3)
    async with services(context).sessions() as session:
        _, member, response, _ = await load(update, context, session)
        question = (await questionnaire.questions(session, response, member))[int(number) - 1]
    if question.kind == QuestionKind.SEVERAL_CHOICES:
        return await save(update, context, None, number=int(number), toggle=key)
    return await save(update, context, key, number=int(number))


@step
async def skip(update: Update, context: Context) -> int:
    return await save(update, context, None, number=int(update.callback_query.data.split(":")[2]))


# -- review and send --------------------------------------------------------------------------


@step
async def show_review(update: Update, context: Context, note: str = "") -> int:
    svc = services(context)
    async with transaction(svc.sessions) as session:
        _meeting, member, response, t = await load(update, context, session)
        asked = await questionnaire.questions(session, response, member)
        answers = questionnaire.read_answers(response, svc.settings)
        questionnaire.audit(session, member, "answers.read", response, CHAT, svc.now())
        submitted = response.state == ResponseState.SUBMITTED
        readers = len(questionnaire.readers(response))
    lines = [note] if note else []
    lines.append(t.gettext("Your answers:"))
    for number, question in enumerate(asked, 1):
        value = questionnaire.as_shown(question, answers.get(question.id))
        shown = str(value)[:PREVIEW] + ("…" if value and len(str(value)) > PREVIEW else "")
        lines.append(f"{number}. {question.text}\n→ {shown if value else t.gettext('No answer')}")
    lines.append(
        t.ngettext(
            "You chose {n} person who may read your answers.",
            "You chose {n} people who may read your answers.",
            readers,
        )
    )
    rows = [
        [(str(n), f"fq:q:{n}") for n in range(row, min(row + 5, len(asked) + 1))]
        for row in range(1, len(asked) + 1, 5)
    ]
    rows.append([(t.gettext("Who may read"), "fq:intro")])
    if not submitted:
        rows.append([(t.gettext("Send my answers"), "fq:send")])
    text = "\n\n".join(lines)
    if len(text) > 4000:
        text = text[:3990] + "…"
    await say(update, text, keyboard(rows))
    return REVIEW


@step
async def send(update: Update, context: Context) -> int:
    svc = services(context)
    async with transaction(svc.sessions) as session:
        meeting, member, response, t = await load(update, context, session)
        try:
            sent = await questionnaire.submit(session, meeting, member, response, svc.now(), CHAT)
        except InvalidInput as error:
            await update.callback_query.answer(error.render(t), show_alert=True)
            return REVIEW
    if not sent:
        await update.callback_query.answer(t.gettext("Your answers were already sent."))
        return REVIEW
    context.user_data.pop("family", None)
    await say(
        update,
        t.gettext(
            "Thank you! Your answers are saved and will be shared as you "
            "chose. You can change them from your meetings ({meetings}).",
            meetings=MEETINGS.slash(t.locale),
        ),
    )
    return ConversationHandler.END


@step
async def intro_again(update: Update, context: Context) -> int:
    return await show_readers(update, context)


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("family", None)
    await update.effective_message.reply_text(
        t.gettext("Stopped. What you answered so far is saved; you can continue later.")
    )
    return ConversationHandler.END


async def button_expected(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "Please choose with the buttons above, or stop with {cancel}.",
            cancel=CANCEL.slash(t.locale),
        )
    )


def answer_button(t: Translator, meeting_id: int, submitted: bool) -> InlineKeyboardButton:
    label = (
        t.gettext("See or change my answers") if submitted else t.gettext("Answer the questions")
    )
    return InlineKeyboardButton(label, callback_data=f"fq:start:{meeting_id}")


def install(application: Application) -> None:
    cb = CallbackQueryHandler
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[cb(begin, pattern=r"^fq:start:\d+$")],
            states={
                LANGUAGE: [cb(chose_language, pattern=r"^fq:lang:(fi|fi-selko|sv|en)$")],
                INTRO: [cb(show_readers, pattern="^fq:intro$")],
                READERS: [
                    cb(toggle_reader, pattern=r"^fq:who:\d+$"),
                    cb(show_question, pattern=r"^fq:q:\d+$"),
                ],
                QUESTION: [
                    cb(show_question, pattern=r"^fq:q:\d+$"),
                    cb(option, pattern=r"^fq:opt:\d+:[\w-]+$"),
                    cb(skip, pattern=r"^fq:skip:\d+$"),
                    cb(intro_again, pattern="^fq:intro$"),
                    MessageHandler(text, typed),
                ],
                REVIEW: [
                    cb(show_question, pattern=r"^fq:q:\d+$"),
                    cb(send, pattern="^fq:send$"),
                    cb(intro_again, pattern="^fq:intro$"),
                ],
            },
            fallbacks=[
                CommandHandler(list(CANCEL.names), stop),
                cb(begin, pattern=r"^fq:start:\d+$"),
                MessageHandler(filters.ALL & ~filters.COMMAND, button_expected),
            ],
            name="family-questions",
            allow_reentry=True,
        )
    )
