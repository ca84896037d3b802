"""The joint plan after the meeting: the convener (or a co-convener) records items of what, who
and by when, sends the plan to the circle and the family, copies it as plain text for the
client record system, and can convene the next meeting from here."""

from __future__ import annotations

import io

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import meetings, plans
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import N_, Translator
from scheduling.models import AccessChannel, ActorKind, AuditEvent, Meeting, Professional
from scheduling.people import approved_professional
from scheduling.timeparse import parse_date

from ..commands import CANCEL
from ..context import Context, services, translator_for
from ..messages import heading
from .convene import column, refuse

WHAT, WHO, WHEN, OVERVIEW = range(4)
SHOWN = 3500  # characters of the plan shown in the chat; the plain-text copy has everything


async def _managed(update: Update, context: Context, meeting_id: int) -> Meeting:
    """The meeting, if the person may record its plan now; otherwise InvalidInput."""
    async with services(context).sessions() as session:
        meeting = await meetings.load(session, meeting_id)
        professional = await approved_professional(session, update.effective_user.id)
    if meeting is None or not meetings.can_manage(meeting, professional):
        raise InvalidInput(N_("This button is no longer valid."))
    plans.check_open(meeting, services(context).now())
    return meeting


async def _locked(
    session: AsyncSession, update: Update, context: Context
) -> tuple[Meeting, Professional]:
    """The conversation's meeting, locked for a change, and the presser, who must manage it."""
    meeting_id = context.user_data.get("plan", {}).get("meeting", 0)
    meeting = await meetings.load(session, meeting_id, lock=True)
    by = await approved_professional(session, update.effective_user.id)
    if meeting is None or by is None or not meetings.can_manage(meeting, by):
        raise InvalidInput(N_("This button is no longer valid."))
    return meeting, by


async def _plan_text(context: Context, t: Translator, meeting: Meeting) -> tuple[str, int]:
    svc = services(context)
    async with svc.sessions() as session:
        lines = await plans.lines(session, meeting.id, svc.settings)
    assert meeting.starts_at is not None and meeting.ends_at is not None
    text = plans.plain_text(
        t,
        heading(t, meeting, True),
        t.time_range(meeting.starts_at, meeting.ends_at, year=True),
        lines,
    )
    return text, len(lines)


async def _show(
    update: Update, context: Context, t: Translator, meeting: Meeting, note: str = ""
) -> int:
    text, count = await _plan_text(context, t, meeting)
    if len(text) > SHOWN:
        text = text[:SHOWN] + "…"
    if count == 0:
        text += t.gettext("No items yet.")
    rows = [(t.gettext("Add an item"), "pl:add")]
    if count:
        rows += [
            (t.gettext("Send the plan to the circle and the family"), "pl:send"),
            (t.gettext("Plain text to copy"), "pl:text"),
            (t.gettext("Remove the last item"), "pl:undo"),
        ]
    rows.append((t.gettext("Convene the next meeting"), f"next:{meeting.id}"))
    await update.effective_message.reply_text(
        "\n\n".join(part for part in (note, text) if part), reply_markup=column(rows)
    )
    return OVERVIEW


async def begin(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    query = update.callback_query
    try:
        meeting = await _managed(update, context, int(query.data.split(":")[1]))
    except InvalidInput as error:
        await refuse(update, t, error)
        return ConversationHandler.END
    await query.answer()
    context.user_data["plan"] = {"meeting": meeting.id}
    return await _show(update, context, t, meeting)


async def ask_what(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    await update.callback_query.answer()
    context.user_data.setdefault("plan", {}).pop("item", None)
    await update.effective_message.reply_text(
        t.gettext(
            "What will be done? Write one item of the plan. (Stop with {cancel}.)",
            cancel=CANCEL.slash(t.locale),
        )
    )
    return WHAT


async def gave_what(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    try:
        what = plans.clean(update.effective_message.text or "", plans.MAX_WHAT, required=True)
    except InvalidInput as error:
        await refuse(update, t, error)
        return WHAT
    context.user_data.setdefault("plan", {})["item"] = {"what": what}
    await update.effective_message.reply_text(
        t.gettext("Who does it? Write a role or a name."),
        reply_markup=column([(t.gettext("Skip"), "pl:skip")]),
    )
    return WHO


async def gave_who(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    item = context.user_data.get("plan", {}).get("item")
    if item is None:
        return ConversationHandler.END
    if update.callback_query is not None:
        await update.callback_query.answer()
        item["who"] = None
    else:
        try:
            item["who"] = plans.clean(
                update.effective_message.text or "", plans.MAX_WHO, required=False
            )
        except InvalidInput as error:
            await refuse(update, t, error)
            return WHO
    await update.effective_message.reply_text(
        t.gettext("By when? Write a date, like 15.1."),
        reply_markup=column([(t.gettext("Skip"), "pl:skip")]),
    )
    return WHEN


async def gave_when(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    state = context.user_data.get("plan", {})
    item = state.get("item")
    if item is None:
        return ConversationHandler.END
    now = svc.now()
    try:
        due = None
        if update.callback_query is not None:
            await update.callback_query.answer()
        else:
            due = parse_date(update.effective_message.text or "", now.astimezone(t.zone).date())
        async with transaction(svc.sessions) as session:
            meeting, by = await _locked(session, update, context)
            await plans.add(
                session, meeting, item["what"], item.get("who"), due, svc.settings, now, by=by
            )
    except InvalidInput as error:
        await refuse(update, t, error)
        return WHEN
    state.pop("item", None)
    return await _show(update, context, t, meeting, t.gettext("Added."))


async def send(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            meeting, by = await _locked(session, update, context)
            told = await plans.share(session, meeting, svc.settings, svc.now(), by=by)
    except InvalidInput as error:
        await refuse(update, t, error)
        return OVERVIEW
    svc.outbox_wake.set()
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        t.ngettext(
            "The plan was sent to {n} person in the circle and the family.",
            "The plan was sent to {n} people in the circle and the family.",
            told,
        )
        + " "
        + t.gettext("The family also sees it on their own page.")
    )
    return OVERVIEW


async def as_text(update: Update, context: Context) -> int:
    """The whole plan as plain text (a file when it is long), each export audited."""
    t = await translator_for(update, context)
    svc = services(context)
    try:
        meeting = await _managed(
            update, context, context.user_data.get("plan", {}).get("meeting", 0)
        )
    except InvalidInput as error:
        await refuse(update, t, error)
        return ConversationHandler.END
    text, _ = await _plan_text(context, t, meeting)
    async with transaction(svc.sessions) as session:
        by = await approved_professional(session, update.effective_user.id)
        session.add(
            AuditEvent(
                occurred_at=svc.now(),
                actor_kind=ActorKind.PROFESSIONAL,
                actor_id=by.id if by else None,
                action="plan.export",
                object_type="plan",
                object_id=meeting.id,
                meeting_id=meeting.id,
                channel=AccessChannel.TELEGRAM,
            )
        )
    await update.callback_query.answer()
    if len(text) <= 4096:
        await update.effective_message.reply_text(text)
    else:
        document = io.BytesIO(text.encode("utf-8"))
        await update.effective_message.reply_document(document, filename="plan.txt")
    return OVERVIEW


async def undo(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            meeting, by = await _locked(session, update, context)
            await plans.remove_last(session, meeting, svc.now(), by=by)
    except InvalidInput as error:
        await refuse(update, t, error)
        return OVERVIEW
    await update.callback_query.answer()
    return await _show(update, context, t, meeting, t.gettext("Removed."))


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("plan", None)
    await update.effective_message.reply_text(
        t.gettext("Stopped. The items added so far are kept.")
    )
    return ConversationHandler.END


async def expected_button(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "Please choose with the buttons above, or stop with {cancel}.",
            cancel=CANCEL.slash(t.locale),
        )
    )
    return OVERVIEW


def install(application: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[CallbackQueryHandler(begin, pattern=r"^plan:\d+$")],
            states={
                OVERVIEW: [
                    CallbackQueryHandler(ask_what, pattern="^pl:add$"),
                    CallbackQueryHandler(send, pattern="^pl:send$"),
                    CallbackQueryHandler(as_text, pattern="^pl:text$"),
                    CallbackQueryHandler(undo, pattern="^pl:undo$"),
                    MessageHandler(text, expected_button),
                ],
                WHAT: [MessageHandler(text, gave_what)],
                WHO: [
                    MessageHandler(text, gave_who),
                    CallbackQueryHandler(gave_who, pattern="^pl:skip$"),
                ],
                WHEN: [
                    MessageHandler(text, gave_when),
                    CallbackQueryHandler(gave_when, pattern="^pl:skip$"),
                ],
            },
            fallbacks=[CommandHandler(list(CANCEL.names), stop)],
            name="plan",
            allow_reentry=True,
        )
    )
