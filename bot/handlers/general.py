"""/start, /apua (/help), /peru (/cancel) outside a conversation, and what is not understood."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from scheduling.db import transaction
from scheduling.i18n import Translator
from scheduling.people import approved_professional

from ..commands import CANCEL, HELP, LANGUAGE, MEETINGS, MENU, NEW
from ..context import Context, services, translator_for


def introduction(t: Translator) -> str:
    return t.gettext(
        "Hello! Kerralla brings together everyone around a child and family – the family, "
        "school or early childhood education, child protection and the family centre – "
        "to one meeting at a time that suits all."
    )


def next_steps_for_stranger(t: Translator) -> str:
    return t.gettext(
        "If you are a professional, ask your administrator for an invitation link. "
        "If you received a link to a meeting or to the family's questions, open that link."
    )


def help_text(t: Translator) -> str:
    lines = [t.gettext("Commands:")]
    for command in MENU:
        other = command.english if t.locale == "fi" else command.finnish
        lines.append(f"{command.slash(t.locale)} (/{other}) – {t.gettext(command.description)}")
    return "\n".join(lines)


async def start(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    if context.args:
        # Invitation links carry a one-time token; none is known here.
        await update.effective_message.reply_text(
            t.gettext(
                "This link is not valid or has expired. Ask the person who sent it for a new one."
            )
        )
        return
    await update.effective_message.reply_text(
        "\n\n".join(
            [
                introduction(t),
                next_steps_for_stranger(t),
                t.gettext(
                    "Change the language: {language}. Instructions: {help}",
                    language=LANGUAGE.slash(t.locale),
                    help=HELP.slash(t.locale),
                ),
            ]
        )
    )


async def help_command(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        "\n\n".join([introduction(t), help_text(t), next_steps_for_stranger(t)])
    )


async def cancel_outside_conversation(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(t.gettext("There is nothing in progress to stop."))


async def professionals_only(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    svc = services(context)
    async with transaction(svc.sessions) as session:
        professional = await approved_professional(session, update.effective_user.id)
    if professional is None:
        await update.effective_message.reply_text(
            t.gettext(
                "Only professionals approved in Kerralla can convene and see meetings. "
                "Ask your administrator for an invitation link."
            )
        )
        return
    await not_understood(update, context)


async def not_understood(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "I did not understand that. {help} shows what you can do.", help=HELP.slash(t.locale)
        )
    )


async def stale_button(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.callback_query.answer(
        t.gettext("This button is no longer valid."), show_alert=True
    )


def install(application: Application) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler(list(HELP.names), help_command))
    application.add_handler(CommandHandler(list(CANCEL.names), cancel_outside_conversation))
    application.add_handler(CommandHandler([*NEW.names, *MEETINGS.names], professionals_only))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, not_understood)
    )
