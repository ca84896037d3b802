"""/start, /apua (/help), /peru (/cancel) outside a conversation, and what is not understood.

What Kerralla says depends on who is writing: a professional, someone waiting for approval,
a family member, or a stranger.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from scheduling.i18n import Translator
from scheduling.people import Role, role_of

from ..commands import CALENDAR, CANCEL, HELP, LANGUAGE, MEETINGS, MENU, NEW
from ..context import Context, services, translator_for
from . import answers, onboarding


def introduction(t: Translator) -> str:
    return t.gettext(
        "Hello! Kerralla brings together everyone around a child and family – the family, "
        "school or early childhood education, child protection and the family centre – "
        "to one meeting at a time that suits all."
    )


def next_steps(t: Translator, role: Role) -> str:
    if role == Role.PROFESSIONAL:
        return t.gettext(
            "Convene a meeting with {new}. Your meetings: {meetings}.",
            new=NEW.slash(t.locale),
            meetings=MEETINGS.slash(t.locale),
        )
    if role == Role.PENDING:
        return t.gettext(
            "Your request for access is waiting for an administrator. You will hear here when "
            "it has been handled."
        )
    if role == Role.FAMILY:
        return t.gettext(
            "Kerralla tells you when your meeting is and asks you a few questions before it, "
            "so that you need to tell your story only once. Your meetings: {meetings}.",
            meetings=MEETINGS.slash(t.locale),
        )
    return t.gettext(
        "If you are a professional, ask your administrator for an invitation link, or ask for "
        "access with the button below. If you received a link to a meeting or to the family's "
        "questions, open that link."
    )


def help_text(t: Translator, role: Role) -> str:
    lines = [t.gettext("Commands:")]
    for command in MENU:
        if command in (NEW, CALENDAR) and role != Role.PROFESSIONAL:
            continue
        other = command.other_for(t.locale)
        lines.append(f"{command.slash(t.locale)} (/{other}) – {t.gettext(command.description)}")
    return "\n".join(lines)


async def sender_role(update: Update, context: Context) -> Role:
    async with services(context).sessions() as session:
        return await role_of(session, update.effective_user.id)


async def start(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    if context.args:
        token = context.args[0]
        if await onboarding.open_invitation(update, context, token):
            return
        if await answers.open_seat_link(update, context, token):
            return
        await update.effective_message.reply_text(
            t.gettext(
                "This link is not valid or has expired. Ask the person who sent it for a new one."
            )
        )
        return
    role = await sender_role(update, context)
    text = "\n\n".join(
        [
            introduction(t),
            next_steps(t, role),
            t.gettext(
                "Change the language: {language}. Instructions: {help}",
                language=LANGUAGE.slash(t.locale),
                help=HELP.slash(t.locale),
            ),
        ]
    )
    buttons = onboarding.ask_button(t) if role == Role.STRANGER else None
    await update.effective_message.reply_text(text, reply_markup=buttons)


async def help_command(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    role = await sender_role(update, context)
    await update.effective_message.reply_text(
        "\n\n".join([introduction(t), help_text(t, role), next_steps(t, role)]),
        reply_markup=onboarding.ask_button(t) if role == Role.STRANGER else None,
    )


async def cancel_outside_conversation(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(t.gettext("There is nothing in progress to stop."))


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
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, not_understood)
    )
