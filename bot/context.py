"""Helpers every handler uses: the services, and the translator of the person writing."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from scheduling.db import READ_ONLY, transaction
from scheduling.i18n import Translator
from scheduling.models import TelegramUser
from scheduling.people import remember_telegram_user

from .services import Services

Context = ContextTypes.DEFAULT_TYPE


def services(context: Context) -> Services:
    return context.application.bot_data["services"]


async def translator_for(update: Update, context: Context) -> Translator:
    """The language of whoever sent this update; their first contact picks it from Telegram."""
    svc = services(context)
    user = update.effective_user
    if user is None:
        return svc.translator(svc.settings.default_locale)
    async with svc.sessions() as session:  # most updates: known, nothing to write
        await session.connection(execution_options=READ_ONLY)
        known = await session.get(TelegramUser, user.id)
        if known is not None and user.language_code in (None, "", known.language_code):
            return svc.translator(known.locale)
    async with transaction(svc.sessions) as session:
        row = await remember_telegram_user(
            session, user.id, user.language_code, svc.settings.default_locale
        )
        locale = row.locale
    return svc.translator(locale)
