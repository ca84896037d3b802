"""/omat_tiedot (/mydata): what Kerralla holds about the person writing, and their rights over
it. A professional sees their profile, downloads everything, or deletes the profile; a family
member is pointed to their meetings (each has "My data"); anyone else hears that Kerralla
keeps only the language they chose."""

from __future__ import annotations

import io
import json

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from scheduling import own_profile
from scheduling.db import transaction
from scheduling.models import AccessChannel, Organisation
from scheduling.people import Role, approved_professional, role_of

from ..commands import MEETINGS, MYDATA
from ..context import Context, services, translator_for
from ..vocabulary import sector_name
from .convene import column

CHAT = AccessChannel.TELEGRAM


async def show(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        professional = await approved_professional(session, update.effective_user.id)
        role = await role_of(session, update.effective_user.id)
        organisation = (
            await session.get(Organisation, professional.organisation_id) if professional else None
        )
    if professional is None:
        if role == Role.FAMILY:
            text = t.gettext(
                "Your answers and choices are kept with each meeting: open the meeting with "
                "{meetings} and choose \u201cMy data\u201d.",
                meetings=MEETINGS.slash(t.locale),
            )
        else:
            text = t.gettext(
                "Kerralla keeps nothing about you but the language you chose for this chat."
            )
        await update.effective_message.reply_text(text)
        return
    lines = [
        t.gettext("Your profile in Kerralla:"),
        t.gettext("Name: {name}", name=professional.display_name),
        t.gettext("Title: {title}", title=professional.title),
        t.gettext(
            "Organisation: {organisation} ({sector})",
            organisation=organisation.name if organisation else "–",
            sector=sector_name(t, professional.sector),
        ),
        t.gettext("Email: {email}", email=professional.email or "–"),
        t.gettext(
            "Calendar for busy times: {calendar}",
            calendar=t.gettext("connected")
            if professional.calendar_feed_url or professional.caldav_url
            else t.gettext("not connected"),
        ),
    ]
    await update.effective_message.reply_text(
        "\n".join(lines),
        reply_markup=column(
            [
                (t.gettext("Download my data"), "me:dl"),
                (t.gettext("Delete my profile"), "me:del"),
            ]
        ),
    )


async def download(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    async with transaction(services(context).sessions) as session:
        professional = await approved_professional(session, update.effective_user.id)
        data = await own_profile.export(session, professional, services(context).now(), CHAT)
    await update.callback_query.answer()
    await update.effective_message.reply_document(
        io.BytesIO(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")),
        filename="kerralla-my-data.json",
        caption=t.gettext("Everything Kerralla holds about you."),
    )


async def delete(update: Update, context: Context) -> None:
    """First a question; only the second button (`me:del!`) deletes."""
    t = await translator_for(update, context)
    query = update.callback_query
    await query.answer()
    if query.data == "me:del":
        await update.effective_message.reply_text(
            t.gettext(
                "Delete your profile? Your name, title, email and calendar connections are "
                "deleted and you can no longer convene or see meetings. The meetings you were "
                "in stay for the others in them. This cannot be undone."
            ),
            reply_markup=column([(t.gettext("Yes, delete my profile"), "me:del!")]),
        )
        return
    async with transaction(services(context).sessions) as session:
        professional = await approved_professional(session, update.effective_user.id)
        await own_profile.delete(session, professional, services(context).now(), CHAT)
    await query.edit_message_text(
        t.gettext(
            "Your profile has been deleted. If you need Kerralla again, ask your administrator "
            "for a new invitation."
        )
    )


def install(application: Application) -> None:
    application.add_handler(CommandHandler(list(MYDATA.names), show))
    application.add_handler(CallbackQueryHandler(download, pattern="^me:dl$"))
    application.add_handler(CallbackQueryHandler(delete, pattern="^me:del!?$"))
