"""Becoming a professional: opening an administrator's invitation link, or asking for access
in the chat and being approved by an administrator (ADMIN_TELEGRAM_IDS)."""

from __future__ import annotations

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import outbox
from scheduling.db import transaction
from scheduling.i18n import Translator
from scheduling.models import Organisation, Sector, TelegramUser
from scheduling.people import Role, role_of
from scheduling.professionals import decide, register, request_access

from ..commands import CANCEL, MEETINGS, NEW
from ..context import Context, services, translator_for
from ..vocabulary import sector_name

ASK = "access:ask"
ORGANISATION, SECTOR, TITLE = range(3)


async def open_invitation(update: Update, context: Context, token: str) -> bool:
    """Register the sender with a professional invitation; False if the link is not one."""
    svc = services(context)
    user = update.effective_user
    async with transaction(svc.sessions) as session:
        professional = await register(session, token, user.id, user.full_name, svc.now())
        if professional is None:
            return False
        organisation = await session.get(Organisation, professional.organisation_id)
        name, title = professional.display_name, professional.title
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "Welcome to Kerralla, {name}! You are now registered as a professional: "
            "{organisation}, {title}.",
            name=name,
            organisation=organisation.name,
            title=title,
        )
        + "\n\n"
        + t.gettext(
            "Convene a meeting with {new}. Your meetings: {meetings}.",
            new=NEW.slash(t.locale),
            meetings=MEETINGS.slash(t.locale),
        )
    )
    return True


def ask_button(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("Ask for access as a professional"), callback_data=ASK)]]
    )


async def begin(update: Update, context: Context) -> int:
    query = update.callback_query
    t = await translator_for(update, context)
    svc = services(context)
    async with svc.sessions() as session:
        role = await role_of(session, update.effective_user.id)
        organisations = (
            await session.execute(
                select(Organisation.id, Organisation.name).order_by(Organisation.name).limit(60)
            )
        ).all()
    await query.answer()
    if role in {Role.PROFESSIONAL, Role.PENDING}:
        await query.edit_message_reply_markup(None)
        return ConversationHandler.END
    if not organisations:
        await query.edit_message_text(
            t.gettext("Kerralla has no organisations yet. Ask your administrator to add them.")
        )
        return ConversationHandler.END
    buttons = [
        [InlineKeyboardButton(row.name, callback_data=f"access:org:{row.id}")]
        for row in organisations
    ]
    await query.edit_message_text(
        t.gettext("Which organisation do you work for?"), reply_markup=InlineKeyboardMarkup(buttons)
    )
    return ORGANISATION


async def chose_organisation(update: Update, context: Context) -> int:
    query = update.callback_query
    t = await translator_for(update, context)
    organisation_id = int(query.data.rsplit(":", 1)[1])
    async with services(context).sessions() as session:
        organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return ORGANISATION
    context.user_data["access"] = {"organisation": organisation_id}
    await query.answer()
    buttons = [
        [
            InlineKeyboardButton(
                sector_name(t, sector), callback_data=f"access:sector:{sector.value}"
            )
        ]
        for sector in Sector
    ]
    await query.edit_message_text(
        t.gettext("{organisation}. Which sector do you work in?", organisation=organisation.name),
        reply_markup=InlineKeyboardMarkup(buttons),
    )
    return SECTOR


async def chose_sector(update: Update, context: Context) -> int:
    query = update.callback_query
    t = await translator_for(update, context)
    value = query.data.rsplit(":", 1)[1]
    if value not in {s.value for s in Sector} or "access" not in context.user_data:
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return SECTOR
    context.user_data["access"]["sector"] = value
    await query.answer()
    await query.edit_message_text(
        t.gettext("What is your title? For example: special needs teacher, social worker.")
    )
    return TITLE


async def gave_title(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    title = (update.effective_message.text or "").strip()
    if not 2 <= len(title) <= 120 or title.startswith("/"):
        await update.effective_message.reply_text(
            t.gettext(
                "Please write your title in 2–120 characters, or stop with {cancel}.",
                cancel=CANCEL.slash(t.locale),
            )
        )
        return TITLE
    choice = context.user_data.pop("access", {})
    svc = services(context)
    user = update.effective_user
    async with transaction(svc.sessions) as session:
        professional = await request_access(
            session,
            telegram_user_id=user.id,
            organisation_id=choice["organisation"],
            sector=Sector(choice["sector"]),
            title=title,
            name=user.full_name,
            now=svc.now(),
        )
        for admin in svc.settings.admin_telegram_ids:
            known = await session.get(TelegramUser, admin)
            locale = known.locale if known else svc.settings.default_locale
            await outbox.tell(
                session,
                admin,
                "access_requested",
                locale,
                now=svc.now(),
                professional_id=professional.id,
            )
    svc.outbox_wake.set()
    await update.effective_message.reply_text(
        t.gettext(
            "Thank you. Your request has been sent to the administrators; you will hear here "
            "when it has been handled."
        )
    )
    return ConversationHandler.END


async def text_instead_of_button(update: Update, context: Context) -> int | None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "Please choose with the buttons above, or stop with {cancel}.",
            cancel=CANCEL.slash(t.locale),
        )
    )
    return None


async def cancel(update: Update, context: Context) -> int:
    context.user_data.pop("access", None)
    t = await translator_for(update, context)
    await update.effective_message.reply_text(t.gettext("Stopped. Nothing was saved."))
    return ConversationHandler.END


async def decision(update: Update, context: Context) -> None:
    """An administrator's Approve or Turn down on an access request."""
    query = update.callback_query
    t = await translator_for(update, context)
    svc = services(context)
    admin = update.effective_user.id
    _, verdict, raw_id = query.data.split(":")
    if admin not in svc.settings.admin_telegram_ids or not raw_id.isdigit():
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    async with transaction(svc.sessions) as session:
        professional = await decide(
            session, int(raw_id), admin, approve=verdict == "yes", now=svc.now()
        )
        if professional is not None and professional.telegram_user_id is not None:
            person = await session.get(TelegramUser, professional.telegram_user_id)
            await outbox.tell(
                session,
                professional.telegram_user_id,
                "access_approved" if verdict == "yes" else "access_declined",
                person.locale if person else svc.settings.default_locale,
                now=svc.now(),
                professional_id=professional.id,
            )
    if professional is None:
        await query.answer(t.gettext("This request has already been handled."), show_alert=True)
        await query.edit_message_reply_markup(None)
        return
    svc.outbox_wake.set()
    await query.answer()
    verdict_text = (
        t.gettext("Approved: {name}.") if verdict == "yes" else t.gettext("Turned down: {name}.")
    )
    await query.edit_message_text(verdict_text.format(name=professional.display_name))


def install(application: Application) -> None:
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(begin, pattern=f"^{ASK}$")],
            states={
                ORGANISATION: [
                    CallbackQueryHandler(chose_organisation, pattern=r"^access:org:\d+$")
                ],
                SECTOR: [CallbackQueryHandler(chose_sector, pattern=r"^access:sector:\w+$")],
                TITLE: [MessageHandler(filters.TEXT & ~filters.COMMAND, gave_title)],
            },
            fallbacks=[
                CommandHandler(list(CANCEL.names), cancel),
                MessageHandler(filters.ALL & ~filters.COMMAND, text_instead_of_button),
            ],
            name="access-request",
        )
    )
    application.add_handler(CallbackQueryHandler(decision, pattern=r"^decide:(yes|no):\d+$"))
