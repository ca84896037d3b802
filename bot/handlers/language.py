"""/kieli (/language): choosing the language Kerralla speaks to you, with buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from scheduling.db import transaction
from scheduling.i18n import LANGUAGE_NAMES, LOCALES
from scheduling.people import set_locale

from ..commands import LANGUAGE
from ..context import Context, services, translator_for

CALLBACK_PREFIX = "lang:"


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=CALLBACK_PREFIX + code)]
            for code in LOCALES
        ]
    )


async def ask(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext("Which language should Kerralla use with you?"), reply_markup=keyboard()
    )


async def chosen(update: Update, context: Context) -> None:
    query = update.callback_query
    code = (query.data or "").removeprefix(CALLBACK_PREFIX)
    if code not in LOCALES:
        t = await translator_for(update, context)
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    await translator_for(update, context)  # makes sure the user is known
    svc = services(context)
    async with transaction(svc.sessions) as session:
        await set_locale(session, update.effective_user.id, code)
    t = svc.translator(code)
    await query.answer()
    await query.edit_message_text(t.gettext("Kerralla now speaks English with you."))


def install(application: Application) -> None:
    application.add_handler(CommandHandler(list(LANGUAGE.names), ask))
    application.add_handler(CallbackQueryHandler(chosen, pattern=f"^{CALLBACK_PREFIX}"))
