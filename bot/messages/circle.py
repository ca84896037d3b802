"""Messages to a meeting's circle: the times to answer, the convener's tally, the fixed time,
a move and a cancellation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from scheduling import meetings
from scheduling.calendar_files import for_participant
from scheduling.i18n import N_, Translator
from scheduling.models import (
    AnswerState,
    Availability,
    AvailabilityAnswer,
    CandidateTime,
    Meeting,
    MeetingState,
    OutboxMessage,
    Participant,
)

from ..commands import MEETINGS
from . import (
    RenderContext,
    Rendered,
    heading,
    load_meeting,
    renders,
    role_names,
    seat_name,
    when_and_where,
)

CHOICES = (
    (Availability.YES, "y"),
    (Availability.MAYBE, "m"),
    (Availability.NO, "n"),
)


def choice_label(t: Translator, availability: Availability) -> str:
    return {
        Availability.YES: t.gettext("Suits me"),
        Availability.MAYBE: t.gettext("Maybe"),
        Availability.NO: t.gettext("Does not suit"),
    }[availability]


def answer_keyboard(
    t: Translator,
    meeting: Meeting,
    candidates: list[CandidateTime],
    mine: dict[int, Availability],
) -> InlineKeyboardMarkup:
    """Two rows per time: the time itself, then yes / maybe / no with the choice marked."""
    rows = []
    for candidate in candidates:
        chosen = mine.get(candidate.id)
        rows.append(
            [
                InlineKeyboardButton(
                    t.time_range(candidate.starts_at, candidate.ends_at),
                    callback_data=f"av:{candidate.id}:-",
                )
            ]
        )
        rows.append(
            [
                InlineKeyboardButton(
                    ("● " if chosen == availability else "") + choice_label(t, availability),
                    callback_data=f"av:{candidate.id}:{code}",
                )
                for availability, code in CHOICES
            ]
        )
    return InlineKeyboardMarkup(rows)


async def answers_of(session: AsyncSession, seat_id: int) -> dict[int, Availability]:
    rows = await session.execute(
        select(AvailabilityAnswer.candidate_time_id, AvailabilityAnswer.answer).where(
            AvailabilityAnswer.participant_id == seat_id
        )
    )
    return dict(rows.all())


def times_text(t: Translator, meeting: Meeting, seat: Participant) -> str:
    professional = seat.professional is not None
    lines = [
        t.gettext(
            "{convener} invites you to a meeting: {meeting}",
            convener=meeting.convener.display_name,
            meeting=heading(t, meeting, professional),
        ),
    ]
    if meeting.place:
        lines.append(t.gettext("Place: {place}", place=meeting.place))
    if meeting.online_url:
        lines.append(t.gettext("Online: {link}", link=meeting.online_url))
    lines.append(
        t.gettext("Does each time suit you? You can change your answers until the time is fixed.")
    )
    if meeting.answer_deadline:
        lines.append(
            t.gettext("Please answer by {deadline}.", deadline=t.datetime(meeting.answer_deadline))
        )
    return "\n".join(lines)


@renders("times_invitation")
async def times_invitation(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    found = await seated(session, row)
    if found is None or found[0].state != MeetingState.COLLECTING:
        return None
    meeting, seat = found
    candidates = meetings.current_candidates(meeting)
    return Rendered(
        times_text(t, meeting, seat),
        answer_keyboard(t, meeting, candidates, await answers_of(session, seat.id)),
    )


@renders("tally")
async def tally(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    lines = [t.gettext("Answers: {meeting}", meeting=heading(t, meeting, True))]
    if meeting.state == MeetingState.SCHEDULED and meeting.starts_at and meeting.ends_at:
        lines.append(
            t.gettext(
                "The time is fixed: {when}",
                when=t.time_range(meeting.starts_at, meeting.ends_at, year=True),
            )
        )
        return Rendered("\n".join(lines))
    if meeting.state == MeetingState.CANCELLED:
        lines.append(t.gettext("The meeting has been cancelled."))
        return Rendered("\n".join(lines))
    rows = await meetings.tally(session, meeting)
    for entry in rows:
        lines.append(
            t.gettext(
                "{when}: suits {yes}, maybe {maybe}, does not suit {no}",
                when=t.time_range(entry.candidate.starts_at, entry.candidate.ends_at),
                yes=entry.yes,
                maybe=entry.maybe,
                no=entry.no,
            )
        )
    waiting = [
        seat_name(t, p) for p in meeting.participants if p.answer_state == AnswerState.PENDING
    ]
    if waiting:
        lines.append(
            t.ngettext(
                "Not answered yet: {names}",
                "Not answered yet ({n}): {names}",
                len(waiting),
                names=", ".join(waiting),
            )
        )
    best = meetings.recommend(rows)
    if best is not None:
        lines.append(
            t.gettext(
                "Recommended: {when}",
                when=t.time_range(best.candidate.starts_at, best.candidate.ends_at),
            )
        )
    return Rendered("\n".join(lines), fix_keyboard(t, rows))


def fix_keyboard(t: Translator, rows: list[meetings.Tally]) -> InlineKeyboardMarkup:
    """A "fix" button a time: the recommended one first, starred, then the others in order."""
    best = meetings.recommend(rows)
    ordered = sorted(rows, key=lambda entry: entry is not best)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("★ " if best is entry else "")
                    + t.gettext(
                        "Fix {when}",
                        when=t.time_range(entry.candidate.starts_at, entry.candidate.ends_at),
                    ),
                    callback_data=f"fix:{entry.candidate.id}",
                )
            ]
            for entry in ordered
        ]
    )


def quorum_question(
    t: Translator, meeting: Meeting, candidate: CandidateTime, gaps: list[meetings.Gap]
) -> Rendered:
    """Asked before fixing a time that someone required has not answered or cannot make: who
    and why, then confirm or go back."""
    names = role_names(t, meeting.meeting_type)
    lines = [
        heading(t, meeting, True),
        t.gettext(
            "Fix the meeting for {when} anyway?",
            when=t.time_range(candidate.starts_at, candidate.ends_at, year=True),
        ),
    ]
    for gap in gaps:
        role = names.get(gap.seat.role, gap.seat.role)
        role = role[:1].upper() + role[1:]
        if gap.answer is None:
            lines.append(t.gettext("{role} has not answered", role=role))
        else:
            lines.append(t.gettext("{role}: does not suit", role=role))
    return Rendered(
        "\n".join(lines),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Confirm anyway"), callback_data=f"fix:{candidate.id}:!"
                    )
                ],
                [InlineKeyboardButton(t.gettext("Back"), callback_data=f"fix:{candidate.id}:<")],
            ]
        ),
    )


@renders("required_answered")
async def required_answered(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.state != MeetingState.COLLECTING:
        return None
    best = meetings.recommend(await meetings.tally(session, meeting))
    if best is None:
        return None
    when = t.time_range(best.candidate.starts_at, best.candidate.ends_at)
    return Rendered(
        t.gettext(
            "Everyone who must answer has answered {meeting}. Recommended time: {when}.",
            meeting=heading(t, meeting, True),
            when=when,
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Fix {when}", when=when), callback_data=f"fix:{best.candidate.id}"
                    )
                ]
            ]
        ),
    )


async def seated(session: AsyncSession, row: OutboxMessage) -> tuple[Meeting, Participant] | None:
    """The row's meeting and the recipient's seat in it, or None when either is gone."""
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    seat = next(
        (p for p in meeting.participants if p.id == row.payload.get("participant_id")), None
    )
    return (meeting, seat) if seat is not None else None


async def time_news(
    session: AsyncSession, t: Translator, row: OutboxMessage, title: str
) -> Rendered | None:
    """`title` (a msgid with {meeting}), then when and where; for a fixed or moved meeting."""
    found = await seated(session, row)
    if found is None or found[0].starts_at is None:
        return None
    meeting, seat = found
    what = heading(t, meeting, seat.professional is not None)
    return Rendered(t.gettext(title, meeting=what) + "\n" + when_and_where(t, meeting))


@renders("meeting_fixed")
async def meeting_fixed(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    return await time_news(session, t, row, N_("The time is fixed: {meeting}"))


@renders("meeting_moved")
async def meeting_moved(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    return await time_news(session, t, row, N_("The meeting has moved: {meeting}"))


@renders("meeting_cancelled")
async def meeting_cancelled(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    found = await seated(session, row)
    if found is None:
        return None
    meeting, seat = found
    when = t.datetime(meeting.starts_at) if meeting.starts_at else ""
    title = t.gettext(
        "The meeting has been cancelled: {meeting} {when}",
        meeting=heading(t, meeting, seat.professional is not None),
        when=when,
    ).strip()
    return Rendered(
        title + "\n" + t.gettext("Reason: {reason}", reason=meeting.cancel_reason or "–")
    )


@renders("co_convener_named")
async def co_convener_named(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    return Rendered(
        t.gettext(
            "{convener} named you a co-convener of {meeting}: you may fix, move and cancel it. "
            "Find it with {meetings}.",
            convener=meeting.convener.display_name,
            meeting=heading(t, meeting, True),
            meetings=MEETINGS.slash(t.locale),
        )
    )


@renders("calendar_file")
async def calendar_file(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    found = await seated(session, row)
    if found is None:
        return None
    meeting, seat = found
    file = for_participant(meeting, seat, t, ctx.settings, ctx.now)
    if file is None:
        return None
    caption = (
        t.gettext("The cancellation for your calendar: open the file to remove the meeting.")
        if file.method == "CANCEL"
        else t.gettext("For your calendar: open the file to add the meeting or update it.")
    )
    return Rendered(caption, document=(file.filename, file.content))


@renders("invitation_email_failed")
async def invitation_email_failed(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    found = await seated(session, row)
    if found is None:
        return None
    meeting, seat = found
    return Rendered(
        t.gettext(
            "The calendar invitation for {meeting} could not be emailed to {name}: the mail "
            "server refused the address. Check the address; the invitation is in the chat.",
            meeting=heading(t, meeting, True),
            name=seat_name(t, seat),
        )
    )


@renders("telegram_delivery_failed")
async def telegram_delivery_failed(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    found = await seated(session, row)
    if found is None:
        return None
    meeting, seat = found
    return Rendered(
        t.gettext(
            "A message about {meeting} did not reach {name} in Telegram. Please contact them "
            "another way.",
            meeting=heading(t, meeting, True),
            name=seat_name(t, seat),
        )
    )
