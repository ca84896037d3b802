"""/kalenteri (/calendar): a professional gives the address of their published calendar, so
that Kerralla proposes times when they are free. Kerralla reads it once at once and says how
that went."""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling.calendars import busy_from_feed, problem_text
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.people import approved_professional, set_calendar_feed

from ..commands import CALENDAR, CANCEL
from ..context import Context, services, translator_for

ADDRESS = 0


async def begin(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        professional = await approved_professional(session, update.effective_user.id)
    if professional is None:
        await update.effective_message.reply_text(
            t.gettext(
                "Only professionals approved in Kerralla can convene and see meetings. "
                "Ask your administrator for an invitation link."
            )
        )
        return ConversationHandler.END
    lines = [
        t.gettext(
            "Kerralla can read your published calendar (for example Outlook's “Publish "
            "calendar” ICS link) and propose only times when you are free. It uses only the "
            "times when you are busy; it does not keep or show what your events are."
        ),
        t.gettext("Send the address, or stop with {cancel}.", cancel=CANCEL.slash(t.locale)),
    ]
    buttons = None
    if professional.calendar_feed_url:
        lines.insert(1, t.gettext("Your calendar is set."))
        buttons = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t.gettext("Remove my calendar"), callback_data="cal:off")]]
        )
    await update.effective_message.reply_text("\n\n".join(lines), reply_markup=buttons)
    return ADDRESS


async def gave_address(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    url = (update.effective_message.text or "").strip()
    try:
        async with transaction(svc.sessions) as session:
            professional = await approved_professional(session, update.effective_user.id)
            await set_calendar_feed(session, professional, url, svc.settings)
            checked = professional.calendar_feed_url
    except InvalidInput as error:
        await update.effective_message.reply_text(error.render(t))
        return ADDRESS
    now = svc.now()
    result = await busy_from_feed(
        checked,
        now,
        now + timedelta(days=14),
        time_zone=svc.settings.timezone,
        timeout=svc.settings.calendar_timeout_seconds,
        cache=svc.calendar_cache,
        allow_loopback=svc.settings.allow_loopback_calendars,
    )
    if result.known:
        text = t.ngettext(
            "Saved. Kerralla read your calendar: {n} busy time in the next two weeks.",
            "Saved. Kerralla read your calendar: {n} busy times in the next two weeks.",
            len(result.busy),
        )
    else:
        text = (
            t.gettext("Saved, but reading it did not work yet:")
            + "\n"
            + t.gettext(problem_text(result.problem), name=update.effective_user.full_name)
        )
    await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def remove(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    async with transaction(services(context).sessions) as session:
        professional = await approved_professional(session, update.effective_user.id)
        if professional is not None:
            await set_calendar_feed(session, professional, None, services(context).settings)
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(t.gettext("Your calendar was removed."))
    return ConversationHandler.END


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(t.gettext("Stopped. Nothing was saved."))
    return ConversationHandler.END


def install(application: Application) -> None:
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler(list(CALENDAR.names), begin)],
            states={
                ADDRESS: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, gave_address),
                    CallbackQueryHandler(remove, pattern="^cal:off$"),
                ]
            },
            fallbacks=[CommandHandler(list(CANCEL.names), stop)],
            name="calendar",
            allow_reentry=True,
        )
    )
