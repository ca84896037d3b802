"""/kalenteri (/calendar): a professional gives the address of their published calendar, so
that Kerralla proposes times when they are free. Kerralla reads it once at once and says how
that went, naming to them (and only to them) the entries it had to skip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling.calendars import SKIP_REASONS, SkippedEntry, busy_from_feed, problem_text
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import Translator
from scheduling.people import approved_professional, set_calendar_feed

from ..commands import CALENDAR, CANCEL
from ..context import Context, services, translator_for

ADDRESS = 0
#: Skipped entries named in the reply; the rest are counted.
SHOWN_SKIPPED = 3


def skipped_note(t: Translator, skipped: Sequence[SkippedEntry], today: date) -> str:
    """`Kalenterista ohitettiin 1 merkintä:` and a line for each of the first few."""
    lines = [
        t.ngettext(
            "{n} entry of your calendar was skipped:",
            "{n} entries of your calendar were skipped:",
            len(skipped),
        )
    ]
    for entry in skipped[:SHOWN_SKIPPED]:
        if entry.summary:
            name = t.gettext("“{summary}”", summary=entry.summary)
        else:
            name = t.gettext("(untitled)")
        reason = t.gettext(SKIP_REASONS[entry.reason], property=entry.property or "")
        if entry.day is None:
            lines.append(t.gettext("{entry} — {reason}", entry=name, reason=reason))
        else:
            day = t.date(entry.day, year=entry.day.year != today.year)
            lines.append(
                t.gettext("{entry} {date} — {reason}", entry=name, date=day, reason=reason)
            )
    if len(skipped) > SHOWN_SKIPPED:
        rest = len(skipped) - SHOWN_SKIPPED
        lines.append(t.ngettext("…and {n} more.", "…and {n} more.", rest))
    return "\n".join(lines)


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
        if result.skipped:
            today = t.local(now).date()
            text += "\n\n" + skipped_note(t, result.skipped, today)
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
