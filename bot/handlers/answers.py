"""Answering candidate times with buttons, taking a seat through an invitation link, and the
convener fixing the time."""

from __future__ import annotations

from contextlib import suppress

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler

from scheduling import meetings, outbox, questionnaire
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.models import (
    Availability,
    CandidateTime,
    MeetingState,
    TelegramUser,
)
from scheduling.people import approved_professional

from ..context import Context, services, translator_for
from ..messages import Rendered, heading
from ..messages.circle import answer_keyboard, answers_of, fix_keyboard, quorum_question
from . import family

CODES = {"y": Availability.YES, "m": Availability.MAYBE, "n": Availability.NO}


async def open_seat_link(update: Update, context: Context, token: str) -> bool:
    """Take a seat in a meeting's circle with its one-time link; False if it is not one."""
    svc = services(context)
    user = update.effective_user
    t = await translator_for(update, context)
    async with transaction(svc.sessions) as session:
        person = await session.get(TelegramUser, user.id)
        seat = await meetings.claim_seat(session, token, person, svc.now())
        if seat is None:
            return False
        meeting = await meetings.load(session, seat.meeting_id)
        if meeting.state == MeetingState.COLLECTING:
            await outbox.tell(
                session,
                user.id,
                "times_invitation",
                t.locale,
                now=svc.now(),
                meeting_id=meeting.id,
                dedupe_key=f"times:seat:{seat.id}",
                participant_id=seat.id,
            )
        elif meeting.state == MeetingState.SCHEDULED:
            await outbox.tell(
                session,
                user.id,
                "meeting_fixed",
                t.locale,
                now=svc.now(),
                meeting_id=meeting.id,
                dedupe_key=f"fixed:seat:{seat.id}",
                participant_id=seat.id,
            )
        convener = meeting.convener.display_name
        asks = (
            seat.family_member is not None
            and await questionnaire.response_for(session, meeting, seat.family_member) is not None
        )
    svc.outbox_wake.set()
    buttons = (
        InlineKeyboardMarkup([[family.answer_button(t, meeting.id, submitted=False)]])
        if asks
        else None
    )
    await update.effective_message.reply_text(
        t.gettext(
            "You are now in the circle of a meeting convened by {convener}.", convener=convener
        ),
        reply_markup=buttons,
    )
    return True


async def answered(update: Update, context: Context) -> None:
    query = update.callback_query
    t = await translator_for(update, context)
    svc = services(context)
    _, raw_id, code = query.data.split(":")
    if code == "-":
        await query.answer(t.gettext("Choose: suits me, maybe or does not suit."))
        return
    stale = t.gettext("This button is no longer valid.")
    async with transaction(svc.sessions) as session:
        candidate = await session.get(CandidateTime, int(raw_id))
        meeting = (
            await meetings.load(session, candidate.meeting_id, lock=True) if candidate else None
        )
        seat = meetings.seat_of(meeting, update.effective_user.id) if meeting else None
        if seat is None or code not in CODES:
            await query.answer(stale, show_alert=True)
            return
        try:
            await meetings.answer(session, meeting, seat, int(raw_id), CODES[code], svc.now())
        except InvalidInput as error:
            await query.answer(error.render(t), show_alert=True)
            return
        buttons = answer_keyboard(
            t, meeting, meetings.current_candidates(meeting), await answers_of(session, seat.id)
        )
    svc.outbox_wake.set()
    await query.answer(t.gettext("Saved."))
    with suppress(BadRequest):  # the same answer again: the message is already right
        await query.edit_message_reply_markup(buttons)


async def fix(update: Update, context: Context) -> None:
    """`fix:<time>`: fix it, or first ask when someone required has not answered or cannot
    come; `fix:<time>:!` fixes it as confirmed; `fix:<time>:<` goes back to the times."""
    query = update.callback_query
    t = await translator_for(update, context)
    svc = services(context)
    _, raw_id, *step = query.data.split(":")
    refusal = question = back = None
    async with transaction(svc.sessions) as session:
        candidate = await session.get(CandidateTime, int(raw_id))
        meeting = (
            await meetings.load(session, candidate.meeting_id, lock=True) if candidate else None
        )
        by = await approved_professional(session, update.effective_user.id)
        if (
            meeting is None
            or by is None
            or not meetings.can_manage(meeting, by)
            or candidate not in meetings.current_candidates(meeting)  # a button of a past round
        ):
            refusal = t.gettext("This button is no longer valid.")
        elif step == ["<"] and meeting.state != MeetingState.COLLECTING:
            refusal = t.gettext("The time of this meeting has already been decided.")
        elif step == ["<"]:
            back = Rendered(
                heading(t, meeting, True) + "\n" + t.gettext("Nothing was fixed. Choose a time:"),
                fix_keyboard(t, await meetings.tally(session, meeting)),
            )
        else:
            try:
                await meetings.fix(
                    session,
                    meeting,
                    candidate.starts_at,
                    svc.settings,
                    svc.now(),
                    by=by,
                    confirmed=step == ["!"],
                )
                when = t.time_range(meeting.starts_at, meeting.ends_at, year=True)
            except meetings.QuorumNotMet as missing:
                question = quorum_question(t, meeting, candidate, missing.gaps)
            except InvalidInput as error:
                refusal = error.render(t)
    if refusal is not None:
        await query.answer(refusal, show_alert=True)
    elif back is not None:
        await query.answer(t.gettext("Nothing was fixed."))
        await query.edit_message_text(back.text, reply_markup=back.buttons)
    elif question is not None:
        await query.answer()
        await update.effective_chat.send_message(question.text, reply_markup=question.buttons)
    else:
        svc.outbox_wake.set()
        await query.answer(t.gettext("Fixed: {when}", when=when))
        with suppress(BadRequest):  # the tally is re-rendered by delivery; others lose buttons
            await query.edit_message_reply_markup(None)


def install(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(answered, pattern=r"^av:\d+:[ymn-]$"))
    application.add_handler(CallbackQueryHandler(fix, pattern=r"^fix:\d+(:[!<])?$"))
