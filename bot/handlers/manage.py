"""/tapaamiset (/meetings): a person's meetings, each opening a card with only the actions that
person may take — remind, name a co-convener, move, cancel, convene the next one."""

from __future__ import annotations

from datetime import UTC

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import feeds, meetings, plans, questionnaire
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import N_, Translator
from scheduling.models import (
    AnswerState,
    Meeting,
    MeetingState,
    Professional,
    ResponseState,
    TelegramUser,
)
from scheduling.people import Role, approved_professional, role_of
from scheduling.timeparse import parse_moment

from ..commands import CANCEL, MEETINGS, NEW
from ..context import Context, services, translator_for
from ..messages import heading, seat_name
from . import family, family_rights
from .convene import role_names

REASON, MOVE_HOW, MOVE_TIME = range(3)

STATE_NAMES = {
    MeetingState.COLLECTING: N_("answers are being collected"),
    MeetingState.SCHEDULED: N_("time fixed"),
    MeetingState.HELD: N_("held"),
    MeetingState.CANCELLED: N_("cancelled"),
}


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def when(t: Translator, meeting: Meeting) -> str:
    if meeting.starts_at and meeting.ends_at:
        return t.time_range(meeting.starts_at, meeting.ends_at, year=True)
    return t.gettext("time not fixed yet")


async def list_meetings(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        found = await meetings.meetings_of(
            session, update.effective_user.id, services(context).now()
        )
        professional = await approved_professional(session, update.effective_user.id)
        role = await role_of(session, update.effective_user.id)
    if role in {Role.STRANGER, Role.PENDING}:
        await update.effective_message.reply_text(
            t.gettext(
                "Only professionals approved in Kerralla can convene and see meetings. "
                "Ask your administrator for an invitation link."
            )
        )
        return
    if not found:
        text = t.gettext("You have no meetings at the moment.")
        if professional is not None:
            text += " " + t.gettext("Convene one with {new}.", new=NEW.slash(t.locale))
        await update.effective_message.reply_text(text)
        return
    rows = []
    for meeting in found:
        label = f"{when(t, meeting)} – {heading(t, meeting, professional is not None)}"
        if meeting.state == MeetingState.CANCELLED:
            label = "✗ " + label
        rows.append([(label[:60], f"card:{meeting.id}")])
    rows.append([(t.gettext("Address for my calendar app"), "feed:new")])
    await update.effective_message.reply_text(
        t.gettext("Your meetings:"), reply_markup=keyboard(rows)
    )


async def new_feed(update: Update, context: Context) -> None:
    """A new secret feed address (the old one stops working)."""
    t = await translator_for(update, context)
    svc = services(context)
    async with transaction(svc.sessions) as session:
        user = await session.get(TelegramUser, update.effective_user.id)
        token = await feeds.renew(session, user, svc.now()) if user else None
    if token is None:
        await update.callback_query.answer(
            t.gettext("This button is no longer valid."), show_alert=True
        )
        return
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        t.gettext(
            "Add this address to your calendar app as a subscribed calendar: it shows your "
            "meetings and keeps them up to date. Keep it to yourself; asking for a new "
            "address stops this one.\n{url}",
            url=f"{svc.settings.base_url}/ics/{token}.ics",
        )
    )


async def card(update: Update, context: Context) -> None:
    query = update.callback_query
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        meeting = await meetings.load(session, int(query.data.split(":")[1]))
        professional = await approved_professional(session, update.effective_user.id)
        seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
        response = (
            await questionnaire.response_for(session, meeting, seat.family_member)
            if seat is not None and seat.family_member is not None
            else None
        )
        until = await questionnaire.deadline(session, meeting) if response else None
    if meeting is None or seat is None or meeting.state == MeetingState.DRAFT:
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return
    manager = meetings.can_manage(meeting, professional)
    lines = [
        heading(t, meeting, seat.professional is not None),
        f"{when(t, meeting)} ({t.gettext(STATE_NAMES[meeting.state])})",
    ]
    if meeting.place:
        lines.append(t.gettext("Place: {place}", place=meeting.place))
    if meeting.online_url:
        lines.append(t.gettext("Online: {link}", link=meeting.online_url))
    if meeting.state == MeetingState.CANCELLED and meeting.cancel_reason:
        lines.append(t.gettext("Reason: {reason}", reason=meeting.cancel_reason))
    if seat.professional is not None:
        names = role_names(t, meeting.meeting_type)
        lines.append(t.gettext("Circle:"))
        for person in meeting.participants:
            mark = "✓" if person.answer_state == AnswerState.ANSWERED else "…"
            if meeting.state != MeetingState.COLLECTING:
                mark = "•"
            co = " " + t.gettext("(co-convener)") if person.is_co_convener else ""
            lines.append(
                f"{mark} {names.get(person.role, person.role)}: {seat_name(t, person)}{co}"
            )
    rows: list[list[tuple[str, str]]] = []
    if (
        response is not None
        and meeting.state != MeetingState.CANCELLED
        and (until is None or services(context).now() < until)
    ):
        submitted = response.state == ResponseState.SUBMITTED
        label = family.answer_button(t, meeting.id, submitted)
        rows.append([(label.text, label.callback_data)])
    if seat.family_member is not None:
        mine = family_rights.button(t, meeting.id)
        rows.append([(mine.text, mine.callback_data)])
    if manager and meeting.state == MeetingState.COLLECTING:
        rows.append([(t.gettext("Remind those who have not answered"), f"rem:{meeting.id}")])
        for candidate in meetings.current_candidates(meeting):
            rows.append(
                [
                    (
                        t.gettext(
                            "Fix {when}", when=t.time_range(candidate.starts_at, candidate.ends_at)
                        ),
                        f"fix:{candidate.id}",
                    )
                ]
            )
    if manager and meeting.state == MeetingState.SCHEDULED:
        rows.append([(t.gettext("Move"), f"move:{meeting.id}")])
    if manager and meeting.state in {MeetingState.SCHEDULED, MeetingState.HELD}:
        if plans.is_open(meeting, services(context).now()):
            rows.append([(t.gettext("Joint plan"), f"plan:{meeting.id}")])
        rows.append([(t.gettext("Convene the next meeting"), f"next:{meeting.id}")])
    if manager and meeting.state in {MeetingState.COLLECTING, MeetingState.SCHEDULED}:
        rows.append([(t.gettext("Cancel the meeting"), f"cancel:{meeting.id}")])
    if meeting.convener_id == (professional.id if professional else None) and meeting.state in {
        MeetingState.COLLECTING,
        MeetingState.SCHEDULED,
    }:
        rows.append([(t.gettext("Name a co-convener"), f"co:{meeting.id}")])
    await query.answer()
    await query.edit_message_text("\n".join(lines), reply_markup=keyboard(rows) if rows else None)


async def managed(update: Update, context: Context) -> tuple[Meeting, Professional] | None:
    """The meeting of a management button, if the presser may manage it; else says no."""
    query = update.callback_query
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        meeting = await meetings.load(session, int(query.data.split(":")[1]))
        professional = await approved_professional(session, update.effective_user.id)
    if meeting is None or not meetings.can_manage(meeting, professional):
        await query.answer(t.gettext("This button is no longer valid."), show_alert=True)
        return None
    return meeting, professional


async def remind(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    if await managed(update, context) is None:
        return
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, int(update.callback_query.data.split(":")[1]))
            count = await meetings.remind_pending(session, meeting, svc.now())
    except InvalidInput as error:
        await update.callback_query.answer(error.render(t), show_alert=True)
        return
    svc.outbox_wake.set()
    await update.callback_query.answer(
        t.ngettext("Reminded {n} person.", "Reminded {n} people.", count), show_alert=True
    )


async def choose_co_convener(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    found = await managed(update, context)
    if found is None:
        return
    meeting, professional = found
    rows = [
        [(seat_name(t, seat), f"cos:{meeting.id}:{seat.id}")]
        for seat in meeting.participants
        if seat.professional is not None and seat.professional_id != professional.id
    ]
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        t.gettext("Who may fix, move and cancel this meeting with you?"),
        reply_markup=keyboard(rows),
    )


async def co_convener_chosen(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    if await managed(update, context) is None:
        return
    svc = services(context)
    _, meeting_id, seat_id = update.callback_query.data.split(":")
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, int(meeting_id))
            by = await approved_professional(session, update.effective_user.id)
            seat = await meetings.name_co_convener(session, meeting, int(seat_id), svc.now(), by=by)
            name = seat.professional.display_name
    except InvalidInput as error:
        await update.callback_query.answer(error.render(t), show_alert=True)
        return
    svc.outbox_wake.set()
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        t.gettext("{name} is now a co-convener.", name=name)
    )


# -- cancelling and moving: conversations with typed input ---------------------------------


async def ask_reason(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    found = await managed(update, context)
    if found is None:
        return ConversationHandler.END
    context.user_data["managing"] = found[0].id
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        t.gettext(
            "Why is the meeting cancelled? Your words go to everyone in the circle. "
            "(Stop with {cancel}.)",
            cancel=CANCEL.slash(t.locale),
        )
    )
    return REASON


async def gave_reason(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, context.user_data.get("managing", 0), lock=True)
            by = await approved_professional(session, update.effective_user.id)
            if meeting is None:
                raise InvalidInput(N_("This button is no longer valid."))
            await meetings.cancel(
                session,
                meeting,
                update.effective_message.text or "",
                svc.settings,
                svc.now(),
                by=by,
            )
            await meetings.refresh_tally(session, meeting, svc.now())
    except InvalidInput as error:
        await update.effective_message.reply_text(error.render(t))
        return REASON
    svc.outbox_wake.set()
    context.user_data.pop("managing", None)
    await update.effective_message.reply_text(
        t.gettext("The meeting is cancelled, and everyone has been told.")
    )
    return ConversationHandler.END


async def ask_how_to_move(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    found = await managed(update, context)
    if found is None:
        return ConversationHandler.END
    context.user_data["managing"] = found[0].id
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        t.gettext("Move to a new time straight away, or ask the circle again?"),
        reply_markup=keyboard(
            [
                [(t.gettext("Straight to a new time"), "mv:direct")],
                [(t.gettext("A new round of answers"), "mv:round")],
            ]
        ),
    )
    return MOVE_HOW


async def chose_how(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    how = update.callback_query.data.split(":")[1]
    context.user_data["moving"] = how
    await update.callback_query.answer()
    if how == "direct":
        text = t.gettext("Write the new time, like ti 1.12. klo 14.")
    else:
        text = t.gettext(
            "Write the times to offer, one per line, like:\nti 1.12. klo 14\nke 2.12. klo 9.30"
        )
    await update.callback_query.edit_message_text(text)
    return MOVE_TIME


async def gave_new_time(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    now = svc.now()
    today = now.astimezone(t.zone).date()
    try:
        lines = [
            line for line in (update.effective_message.text or "").splitlines() if line.strip()
        ]
        starts = [
            parse_moment(line, today, svc.settings.timezone).astimezone(UTC) for line in lines
        ]
        if not starts:
            raise InvalidInput(N_("Choose at least one time."))
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, context.user_data.get("managing", 0), lock=True)
            by = await approved_professional(session, update.effective_user.id)
            if meeting is None:
                raise InvalidInput(N_("This button is no longer valid."))
            if context.user_data.get("moving") == "direct":
                if len(starts) != 1:
                    raise InvalidInput(N_("Write one new time."))
                await meetings.move(session, meeting, starts[0], svc.settings, now, by=by)
                done = t.gettext(
                    "Moved to {when}, and everyone has been told.",
                    when=t.time_range(meeting.starts_at, meeting.ends_at, year=True),
                )
            else:
                await meetings.ask_again(session, meeting, starts, svc.settings, now, by=by)
                done = t.gettext("The circle is asked again; you will see the answers as before.")
    except InvalidInput as error:
        await update.effective_message.reply_text(error.render(t))
        return MOVE_TIME
    svc.outbox_wake.set()
    context.user_data.pop("managing", None)
    await update.effective_message.reply_text(done)
    return ConversationHandler.END


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    context.user_data.pop("managing", None)
    await update.effective_message.reply_text(t.gettext("Stopped. Nothing was saved."))
    return ConversationHandler.END


def install(application: Application) -> None:
    application.add_handler(CommandHandler(list(MEETINGS.names), list_meetings))
    application.add_handler(CallbackQueryHandler(card, pattern=r"^card:\d+$"))
    application.add_handler(CallbackQueryHandler(new_feed, pattern="^feed:new$"))
    application.add_handler(CallbackQueryHandler(remind, pattern=r"^rem:\d+$"))
    application.add_handler(CallbackQueryHandler(choose_co_convener, pattern=r"^co:\d+$"))
    application.add_handler(CallbackQueryHandler(co_convener_chosen, pattern=r"^cos:\d+:\d+$"))
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CallbackQueryHandler(ask_reason, pattern=r"^cancel:\d+$"),
                CallbackQueryHandler(ask_how_to_move, pattern=r"^move:\d+$"),
            ],
            states={
                REASON: [MessageHandler(text, gave_reason)],
                MOVE_HOW: [CallbackQueryHandler(chose_how, pattern="^mv:(direct|round)$")],
                MOVE_TIME: [MessageHandler(text, gave_new_time)],
            },
            fallbacks=[CommandHandler(list(CANCEL.names), stop)],
            name="manage",
            allow_reentry=True,
        )
    )
