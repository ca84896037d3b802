"""How each kind of outbox message reads, rendered in its recipient's language at send time.

The domain queues *what* to tell *whom* (`scheduling.outbox`); a renderer here turns one row
into the text and buttons a person sees, reading what it needs from the database as it is now
(`now` is the moment of sending, for words like "tomorrow").
A renderer returns None when there is nothing left to say (the meeting is gone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from scheduling.i18n import Translator
from scheduling.models import (
    FamilyMember,
    Meeting,
    Organisation,
    OutboxMessage,
    Participant,
    Professional,
    ProfessionalState,
)

from .commands import NEW
from .vocabulary import sector_name


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: InlineKeyboardMarkup | None = None


Renderer = Callable[[AsyncSession, Translator, OutboxMessage, datetime], Awaitable[Rendered | None]]
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(renderer: Renderer) -> Renderer:
        RENDERERS[kind] = renderer
        return renderer

    return register


def in_language(names: dict[str, Any], locale: str) -> str:
    """A data text (a meeting type's name, say) in the reader's language, else in Finnish."""
    return str(names.get(locale) or names.get("fi") or next(iter(names.values()), ""))


async def load_meeting(session: AsyncSession, meeting_id: int | None) -> Meeting | None:
    if meeting_id is None:
        return None
    return await session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .options(
            selectinload(Meeting.meeting_type),
            selectinload(Meeting.participants).selectinload(Participant.professional),
            selectinload(Meeting.participants).selectinload(Participant.family_member),
        )
    )


def seat_name(t: Translator, participant: Participant) -> str:
    """How the circle sees a seat: a professional's name and title, a family member's label."""
    if participant.professional is not None:
        return f"{participant.professional.display_name} ({participant.professional.title})"
    if participant.family_member is not None and participant.family_member.label:
        return participant.family_member.label
    return family_role_name(t, participant.family_member)


def family_role_name(t: Translator, member: FamilyMember | None) -> str:
    role = member.role.value if member is not None else "other"
    return {
        "guardian": t.gettext("guardian"),
        "foster_parent": t.gettext("foster parent"),
        "child": t.gettext("child or young person"),
    }.get(role, t.gettext("family member"))


def heading(t: Translator, meeting: Meeting, for_professional: bool) -> str:
    """The meeting as its reader knows it: type and case label for professionals only."""
    if for_professional:
        return f"{in_language(meeting.meeting_type.names, t.locale)} – {meeting.case_label or '…'}"
    return t.gettext("Meeting")


def when_and_where(t: Translator, meeting: Meeting, today: date | None = None) -> str:
    assert meeting.starts_at is not None and meeting.ends_at is not None
    lines = [t.time_range(meeting.starts_at, meeting.ends_at, year=True)]
    if today is not None:
        lines[0] += f" ({t.relative_day(meeting.starts_at, today)})"
    if meeting.place:
        lines.append(t.gettext("Place: {place}", place=meeting.place))
    if meeting.online_url:
        lines.append(t.gettext("Online: {link}", link=meeting.online_url))
    return "\n".join(lines)


def recipient_is_professional(meeting: Meeting, chat_id: int | None) -> bool:
    return any(
        p.professional is not None and p.professional.telegram_user_id == chat_id
        for p in meeting.participants
    )


@renders("meeting_reminder")
async def meeting_reminder(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    today = now.astimezone(t.zone).date()
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
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    return Rendered(
        t.gettext(
            "You have not yet answered the questions for the meeting on {when}. Your answers "
            "help everyone prepare, so that you do not have to tell everything again.",
            when=t.datetime(meeting.starts_at),
        )
    )


@renders("answers_deadline_passed")
async def answers_deadline_passed(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
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
            "Not answered yet: {names}", "Not answered yet ({n}): {names}", len(names),
            names=", ".join(names),
        )  # fmt: skip
    return Rendered(text)


@renders("summary_ready")
async def summary_ready(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None or meeting.starts_at is None:
        return None
    return Rendered(
        t.gettext(
            "The family has answered the questions for {meeting} on {when} and chose to share "
            "their answers with you.",
            meeting=heading(t, meeting, True),
            when=t.datetime(meeting.starts_at),
        )
    )


@renders("summary_not_shared")
async def summary_not_shared(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    return Rendered(
        t.gettext(
            "The family has answered the questions for {meeting} but chose not to share their "
            "answers with you.",
            meeting=heading(t, meeting, True),
        )
    )


@renders("plan_prompt")
async def plan_prompt(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    meeting = await load_meeting(session, row.meeting_id)
    if meeting is None:
        return None
    return Rendered(
        t.gettext(
            "{meeting} has been held. Record the joint plan agreed in the meeting: what will be "
            "done, who does it and by when.",
            meeting=heading(t, meeting, True),
        )
    )


@renders("access_requested")
async def access_requested(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    professional = await session.get(Professional, row.payload.get("professional_id"))
    if professional is None or professional.state != ProfessionalState.PENDING:
        return None
    organisation = await session.get(Organisation, professional.organisation_id)
    return Rendered(
        t.gettext(
            "{name} asks for access as a professional: {title}, {organisation} ({sector}).",
            name=professional.display_name,
            title=professional.title,
            organisation=organisation.name if organisation else "?",
            sector=sector_name(t, professional.sector),
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Approve"), callback_data=f"decide:yes:{professional.id}"
                    ),
                    InlineKeyboardButton(
                        t.gettext("Turn down"), callback_data=f"decide:no:{professional.id}"
                    ),
                ]
            ]
        ),
    )


@renders("access_approved")
async def access_approved(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    return Rendered(
        t.gettext(
            "Your access has been approved. Convene a meeting with {new}.", new=NEW.slash(t.locale)
        )
    )


@renders("access_declined")
async def access_declined(
    session: AsyncSession, t: Translator, row: OutboxMessage, now: datetime
) -> Rendered | None:
    return Rendered(
        t.gettext(
            "Your request for access was turned down. If you think this is a mistake, contact "
            "your administrator."
        )
    )
