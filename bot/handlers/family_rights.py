"""The family member's rights in the chat, from their meeting card: who may read (changeable at
any time; whoever is taken away loses access at once), download everything, delete the answers."""

from __future__ import annotations

import io
import json

from telegram import InlineKeyboardButton, Update
from telegram.ext import Application, CallbackQueryHandler

from scheduling import family_data, meetings, questionnaire
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import N_, Translator
from scheduling.models import AccessChannel, FamilyMember, Meeting

from ..context import Context, services, translator_for
from .convene import column, refuse
from .family import reader_labels

CHAT = AccessChannel.TELEGRAM


def button(t: Translator, meeting_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(t.gettext("My data"), callback_data=f"fr:menu:{meeting_id}")


async def _own(session, update: Update, meeting_id: int) -> tuple[Meeting, FamilyMember]:  # type: ignore[no-untyped-def]
    """The meeting and the presser's own family seat in it; otherwise the button is not theirs."""
    meeting = await meetings.load(session, meeting_id)
    seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
    if meeting is None or seat is None or seat.family_member is None:
        raise InvalidInput(N_("This button is no longer valid."))
    return meeting, seat.family_member


async def menu(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    meeting_id = int(update.callback_query.data.split(":")[2])
    try:
        async with services(context).sessions() as session:
            await _own(session, update, meeting_id)
    except InvalidInput as error:
        await refuse(update, t, error)
        return
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        t.gettext(
            "Your data: you can change who may read your answers at any time, download "
            "everything Kerralla holds about you, or delete your answers for good."
        ),
        reply_markup=column(
            [
                (t.gettext("Who may read your answers"), f"fr:who:{meeting_id}"),
                (t.gettext("Download my data"), f"fr:dl:{meeting_id}"),
                (t.gettext("Delete my answers"), f"fr:del:{meeting_id}"),
            ]
        ),
    )


async def readers(update: Update, context: Context) -> None:
    """The readers as ☑/☐ buttons; a tap changes one at once (`fr:t:<meeting>:<seat>`)."""
    t = await translator_for(update, context)
    svc = services(context)
    parts = update.callback_query.data.split(":")
    meeting_id = int(parts[2])
    try:
        async with transaction(svc.sessions) as session:
            meeting, member = await _own(session, update, meeting_id)
            response = await questionnaire.response_for(session, meeting, member)
            if response is None:
                raise InvalidInput(N_("This button is no longer valid."))
            if parts[1] == "t":
                seat_id = int(parts[3])
                granted = seat_id not in questionnaire.readers(response)
                await questionnaire.set_consent(
                    session, meeting, member, response, seat_id, granted, svc.now(), CHAT
                )
            chosen = questionnaire.readers(response)
            labels = await reader_labels(session, meeting, t)
    except InvalidInput as error:
        await refuse(update, t, error)
        return
    await update.callback_query.answer()
    rows = [
        (("☑ " if seat_id in chosen else "☐ ") + label, f"fr:t:{meeting_id}:{seat_id}")
        for seat_id, label in labels.items()
    ]
    text = t.gettext(
        "Who may read your answers? Tap to change; whoever you take away loses access at once."
    )
    if parts[1] == "t" and update.effective_message.text:  # the list itself: shown anew
        await update.callback_query.edit_message_text(text, reply_markup=column(rows))
    else:
        await update.effective_message.reply_text(text, reply_markup=column(rows))


async def download(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            _, member = await _own(session, update, int(update.callback_query.data.split(":")[2]))
            data = await family_data.export(session, member, svc.settings, svc.now(), CHAT)
    except InvalidInput as error:
        await refuse(update, t, error)
        return
    await update.callback_query.answer()
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await update.effective_message.reply_document(
        io.BytesIO(body),
        filename="kerralla-my-data.json",
        caption=t.gettext("Everything Kerralla holds about you."),
    )


async def delete(update: Update, context: Context) -> None:
    """First a question; only the second button (`fr:del!`) deletes."""
    t = await translator_for(update, context)
    svc = services(context)
    action, meeting_id = update.callback_query.data.split(":")[1:]
    try:
        async with transaction(svc.sessions) as session:
            _, member = await _own(session, update, int(meeting_id))
            if action == "del!":
                await family_data.delete_answers(session, member, svc.now(), CHAT)
    except InvalidInput as error:
        await refuse(update, t, error)
        return
    await update.callback_query.answer()
    if action == "del":
        await update.effective_message.reply_text(
            t.gettext("Delete your answers?")
            + " "
            + t.gettext(
                "Your answers and your choices of who may read them are deleted for good. "
                "Only the fact that you deleted them is recorded."
            ),
            reply_markup=column([(t.gettext("Yes, delete my answers"), f"fr:del!:{meeting_id}")]),
        )
        return
    await update.callback_query.edit_message_text(
        t.gettext(
            "Your answers have been deleted. Nobody can read them any more, and they cannot be "
            "brought back."
        )
    )


def install(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(menu, pattern=r"^fr:menu:\d+$"))
    application.add_handler(CallbackQueryHandler(readers, pattern=r"^fr:(who:\d+|t:\d+:\d+)$"))
    application.add_handler(CallbackQueryHandler(download, pattern=r"^fr:dl:\d+$"))
    application.add_handler(CallbackQueryHandler(delete, pattern=r"^fr:del!?:\d+$"))
