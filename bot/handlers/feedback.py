"""The family's one feedback question after the meeting, and an optional comment."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import feedback, meetings
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import N_
from scheduling.models import FeedbackAnswer

from ..commands import CANCEL
from ..context import Context, services, translator_for
from ..vocabulary import FEEDBACK_CHOICES
from .convene import refuse

COMMENT = 0


async def answered(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    query = update.callback_query
    _, meeting_id, choice = query.data.split(":")
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, int(meeting_id))
            seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
            if meeting is None or seat is None or seat.family_member is None:
                raise InvalidInput(N_("This button is no longer valid."))
            await feedback.record(
                session, meeting, seat.family_member, FeedbackAnswer(choice), svc.now()
            )
    except InvalidInput as error:
        await refuse(update, t, error)
        return ConversationHandler.END
    context.user_data["feedback"] = int(meeting_id)
    await query.answer()
    await query.edit_message_text(
        t.gettext(
            "Thank you! You answered: {answer}. If you like, write a comment in a message; "
            "it is read only as part of anonymous feedback.",
            answer=t.gettext(FEEDBACK_CHOICES[choice]),
        ),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(t.gettext("No comment"), callback_data="fbdone")]]
        ),
    )
    return COMMENT


async def commented(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, context.user_data.get("feedback", 0))
            seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
            if meeting is None or seat is None or seat.family_member is None:
                raise InvalidInput(N_("This button is no longer valid."))
            await feedback.comment(
                session,
                meeting,
                seat.family_member,
                update.effective_message.text or "",
                svc.settings,
            )
    except InvalidInput as error:
        await refuse(update, t, error)
        return COMMENT
    context.user_data.pop("feedback", None)
    await update.effective_message.reply_text(t.gettext("Thank you for your feedback."))
    return ConversationHandler.END


async def done(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("feedback", None)
    await update.callback_query.answer()
    await update.callback_query.edit_message_reply_markup(None)
    await update.effective_message.reply_text(t.gettext("Thank you for your feedback."))
    return ConversationHandler.END


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("feedback", None)
    await update.effective_message.reply_text(t.gettext("Thank you for your feedback."))
    return ConversationHandler.END


def install(application: Application) -> None:
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(answered, pattern=r"^fb:\d+:(no|partly|yes)$")],
            states={
                COMMENT: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, commented),
                    CallbackQueryHandler(done, pattern="^fbdone$"),
                    CallbackQueryHandler(answered, pattern=r"^fb:\d+:(no|partly|yes)$"),
                ]
            },
            fallbacks=[CommandHandler(list(CANCEL.names), stop)],
            name="feedback",
            allow_reentry=True,
        )
    )
