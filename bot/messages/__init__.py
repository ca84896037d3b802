"""How each kind of outbox message reads, rendered in its recipient's language at send time.

The domain queues *what* to tell *whom* (`scheduling.outbox`); a renderer here turns one row
into the text and buttons a person sees, reading what it needs from the database as it is now
(`ctx.now` is the moment of sending, for words like "tomorrow").
A renderer returns None when there is nothing left to say (the meeting is gone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardMarkup

from scheduling.config import Settings
from scheduling.i18n import Translator
from scheduling.meetings import CONVENER_ROLE
from scheduling.models import (
    FamilyMember,
    Meeting,
    MeetingType,
    OutboxMessage,
    Participant,
)


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: InlineKeyboardMarkup | None = None
    # A file to send instead of a text message (the text becomes its caption).
    document: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class RenderContext:
    """What every renderer may use besides the row: the moment of sending and the settings."""

    now: datetime
    settings: Settings
    # For the few messages that must write as they are made (a fresh summary link).
    sessions: async_sessionmaker[AsyncSession]


Renderer = Callable[
    [AsyncSession, Translator, OutboxMessage, RenderContext], Awaitable[Rendered | None]
]
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
            selectinload(Meeting.convener),
            selectinload(Meeting.candidate_times),
            selectinload(Meeting.participants).selectinload(Participant.professional),
            selectinload(Meeting.participants).selectinload(Participant.family_member),
        )
    )


def role_names(t: Translator, kind: MeetingType) -> dict[str, str]:
    """A meeting type's roles by key, as the reader's language names them (lower case)."""
    names = {role.key: in_language(role.names, t.locale) for role in kind.roles}
    names[CONVENER_ROLE] = t.gettext("convener")
    return names


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


def numbered_family_name(t: Translator, member: FamilyMember | None, number: int | None) -> str:
    """The family member as a reader of the answers tells them apart: "Huoltaja 1"."""
    role = family_role_name(t, member).capitalize()
    if not number:
        return role
    # Translators: one of two family members in the same role, e.g. "Guardian 2".
    return t.gettext("{role} {number}", role=role, number=number)


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


# The renderers register themselves when their modules are imported.
from . import access, circle, timed  # noqa: E402, F401
