"""Messages of the timed jobs: reminders, the deadline, the summary, the plan prompt."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from scheduling import meetings, plans, summaries
from scheduling.db import transaction
from scheduling.i18n import Translator
from scheduling.models import AccessChannel, MeetingState, Organisation, OutboxMessage

from ..vocabulary import FEEDBACK_CHOICES
from . import (
    RenderContext,
    Rendered,
    heading,
    load_meeting,
    numbered_family_name,
    recipient_is_professional,
    renders,
    seat_name,
    when_and_where,
)


@renders("meeting_reminder")
async def meeting_reminder(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    today = ctx.now.astimezone(t.zone).date()
    professional = recipient_is_professional(meeting, row.telegram_chat_id)
    return Rendered(
        "\n".join(
            [
                t.gettext("Reminder: {meeting}", meeting=heading(t, meeting, professional)),
                when_and_where(t, meeting, today),
            ]
        )
    )


@renders("family_questions_reminder")
async def family_questions_reminder(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    return Rendered(
        t.gettext(
            "You have not yet answered the questions for the meeting on {when}. Your answers "
            "help everyone prepare, so that you do not have to tell everything again.",
            when=t.datetime(meeting.starts_at),
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Answer the questions"), callback_data=f"fq:start:{meeting.id}"
                    )
                ]
            ]
        ),
    )


@renders("answers_deadline_passed")
async def answers_deadline_passed(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    missing = set(row.payload.get("missing", []))
    names = [seat_name(t, p) for p in meeting.participants if p.id in missing]
    text = t.gettext(
        "The deadline for answering the times of {meeting} has passed.",
        meeting=heading(t, meeting, True),
    )
    if names:
        text += "\n" + t.ngettext(
            "Not answered yet: {names}",
            "Not answered yet ({n}): {names}",
            len(names),
            names=", ".join(names),
        )
    buttons = None
    if meeting.state == MeetingState.COLLECTING:
        rows = [
            [
                InlineKeyboardButton(
                    t.gettext("Remind those who have not answered"),
                    callback_data=f"rem:{meeting.id}",
                )
            ]
        ]
        best = meetings.recommend(await meetings.tally(session, meeting))
        if best is not None:
            when = t.time_range(best.candidate.starts_at, best.candidate.ends_at)
            rows.append(
                [
                    InlineKeyboardButton(
                        t.gettext("Fix {when}", when=when), callback_data=f"fix:{best.candidate.id}"
                    )
                ]
            )
        buttons = InlineKeyboardMarkup(rows)
    return Rendered(text, buttons)


@renders("summary_ready")
async def summary_ready(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    """A fresh short-lived link to the family's answers; in counties that allow it, the
    answers themselves too (each read audited)."""
    meeting = await load_meeting(session, row.meeting_id)
    seat = (
        next((p for p in meeting.participants if p.id == row.payload.get("participant_id")), None)
        if meeting
        else None
    )
    if meeting is None or seat is None or meeting.starts_at is None:
        return None
    organisation = await session.get(Organisation, meeting.organisation_id)
    async with transaction(ctx.sessions) as writing:
        token = await summaries.new_link(writing, meeting, seat, ctx.now)
        shared = []
        if organisation is not None and organisation.summary_in_chat_allowed:
            shared = await summaries.summary(
                writing, meeting, seat, t.locale, ctx.settings, ctx.now, AccessChannel.TELEGRAM
            )
    lines = [
        t.gettext(
            "The family's answers before {meeting} on {when}:",
            meeting=heading(t, meeting, True),
            when=t.datetime(meeting.starts_at),
        ),
        f"{ctx.settings.base_url}/s/{token}",
        t.gettext("The link works until the meeting ends; every view is recorded."),
    ]
    for family in shared:
        lines.append("")
        lines.append(numbered_family_name(t, family.member, family.number))
        for question, words, _lang in family.answers:
            lines.append(f"{question}\n→ {words if words else t.gettext('No answer')}")
    text = "\n".join(lines)
    return Rendered(text if len(text) <= 4096 else text[:4090] + "…")


@renders("summary_not_shared")
async def summary_not_shared(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    return Rendered(
        t.gettext(
            "{meeting}: the family's answers are not shared with you for this meeting.",
            meeting=heading(t, meeting, True),
        )
    )


@renders("plan_prompt")
async def plan_prompt(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    return Rendered(
        t.gettext(
            "{meeting} has been held. Record the joint plan agreed in the meeting: what will be "
            "done, who does it and by when.",
            meeting=heading(t, meeting, True),
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Record the joint plan"), callback_data=f"plan:{meeting.id}"
                    )
                ]
            ]
        ),
    )


@renders("plan_shared")
async def plan_shared(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    """The plan as it is when sent, in the reader's language; the family sees no case label."""
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    professional = recipient_is_professional(meeting, row.telegram_chat_id)
    text = plans.plain_text(
        t,
        heading(t, meeting, professional),
        t.time_range(meeting.starts_at, meeting.ends_at, year=True),
        await plans.lines(session, meeting.id, ctx.settings),
    )
    return Rendered(text if len(text) <= 4096 else text[:4090] + "…")


@renders("feedback_ask")
async def feedback_ask(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    """The one feedback question to a family member after the meeting."""
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    return Rendered(
        t.gettext(
            "Thank you for the meeting on {when}. One question: did you have to tell your story "
            "again in this meeting?",
            when=t.date(meeting.starts_at),
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(t.gettext(label), callback_data=f"fb:{meeting.id}:{key}")
                    for key, label in FEEDBACK_CHOICES.items()
                ]
            ]
        ),
    )
