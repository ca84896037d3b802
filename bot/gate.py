"""Every command and every button goes through here before any handler sees it.

Each action names what it needs (scheduling.access.Need) and, for actions on one meeting, how
to find the meeting in the button's data. A button that matches no rule is refused: a forged
or unknown `callback_data` never reaches a handler. A refusal says so and changes nothing.
Plain text needs no rule: it only continues a conversation whose first step was let through;
text with control characters in it is refused here, for every handler.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from scheduling import access, meetings
from scheduling.access import Need
from scheduling.models import CandidateTime, Participant

from .commands import CALENDAR, CANCEL, HELP, LANGUAGE, MEETINGS, MYDATA, NEW
from .context import Context, services, translator_for

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
Locate = Callable[[AsyncSession, list[str]], Awaitable[int | None]]


def part(index: int) -> Locate:
    """The meeting id is the button data's `index`-th field."""

    async def locate(session: AsyncSession, parts: list[str]) -> int | None:
        return int(parts[index])

    return locate


def candidate(index: int) -> Locate:
    """The button names a candidate time: its meeting."""

    async def locate(session: AsyncSession, parts: list[str]) -> int | None:
        return await session.scalar(
            select(CandidateTime.meeting_id).where(CandidateTime.id == int(parts[index]))
        )

    return locate


def seat(index: int) -> Locate:
    """The button names a seat in a circle: its meeting."""

    async def locate(session: AsyncSession, parts: list[str]) -> int | None:
        return await session.scalar(
            select(Participant.meeting_id).where(Participant.id == int(parts[index]))
        )

    return locate


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    need: Need
    meeting: Locate | None = None


def rule(pattern: str, need: Need, meeting: Locate | None = None) -> Rule:
    return Rule(re.compile(pattern, re.ASCII), need, meeting)


BUTTONS = [
    # Anyone: their own language, their own feed, asking for access, closing a thank-you.
    rule(r"^lang:(fi|sv|en)$", Need.ANYONE),
    rule(r"^feed:new$", Need.ANYONE),
    rule(r"^access:(ask|org:\d+|sector:\w+)$", Need.ANYONE),
    rule(r"^fbdone$", Need.ANYONE),
    # Administrators decide who becomes a professional.
    rule(r"^decide:(yes|no):\d+$", Need.ADMINISTRATOR),
    # Professionals: convening, their calendar, the steps of managing and of the plan (the
    # conversation's first step checked the meeting; each step checks it again).
    rule(r"^cv:[\w:-]+$", Need.PROFESSIONAL),
    rule(r"^cal:off$", Need.PROFESSIONAL),
    rule(r"^mv:(direct|round)$", Need.PROFESSIONAL),
    rule(r"^pl:(add|send|text|undo|skip)$", Need.PROFESSIONAL),
    rule(r"^me:(dl|del|del!)$", Need.PROFESSIONAL),  # their own profile
    # A meeting's participants see it and answer its times.
    rule(r"^card:\d+$", Need.PARTICIPANT, part(1)),
    rule(r"^av:\d+:[ymn-]$", Need.PARTICIPANT, candidate(1)),
    # Only its convener and co-conveners change it.
    rule(r"^(rem|co|cancel|move|next|plan):\d+$", Need.MANAGER, part(1)),
    rule(r"^cos:\d+:\d+$", Need.MANAGER, part(1)),
    rule(r"^fix:\d+(:[!<])?$", Need.MANAGER, candidate(1)),  # fix; confirmed (!); back (<)
    # A family member: only their own family's questions, data and feedback.
    rule(r"^fq:start:\d+$", Need.OWN_FAMILY, part(2)),
    rule(r"^fq:who:\d+$", Need.OWN_FAMILY, seat(2)),
    rule(r"^fq:(intro|send|q:\d+|skip:\d+|opt:\d+:[\w-]+|lang:(fi|fi-selko|sv|en))$", Need.FAMILY),
    rule(r"^fr:(menu|who|dl|del|del!):\d+$", Need.OWN_FAMILY, part(2)),
    rule(r"^fr:t:\d+:\d+$", Need.OWN_FAMILY, part(2)),
    rule(r"^fb:\d+:(no|partly|yes)$", Need.OWN_FAMILY, part(1)),
]

COMMANDS = {
    **dict.fromkeys(
        ("start", *HELP.names, *LANGUAGE.names, *CANCEL.names, *MYDATA.names), Need.ANYONE
    ),
    **dict.fromkeys(MEETINGS.names, Need.MEMBER),  # lists only the caller's own meetings
    **dict.fromkeys((*NEW.names, *CALENDAR.names), Need.PROFESSIONAL),
}


def command_of(update: Update) -> str | None:
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0][1:].split("@")[0].lower()


# Control characters no keyboard types (tab and line breaks are fine); PostgreSQL cannot even
# store a NUL. Text carrying them is refused before any handler sees it.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


async def gate(update: Update, context: Context) -> None:
    query = update.callback_query
    message = update.message
    if message is not None and CONTROL.search(message.text or message.caption or ""):
        t = await translator_for(update, context)
        await message.reply_text(
            t.gettext(
                "That message has characters in it that Kerralla cannot keep. "
                "Please write it again."
            )
        )
        raise ApplicationHandlerStop
    command = command_of(update)
    if update.effective_user is None or (query is None and command is None):
        return  # plain text continues a conversation that was let in
    if command is not None:
        need: Need | None = COMMANDS.get(command)
        if need is None:
            return  # an unknown command: the catch-all explains
        found: Rule | None = None
    else:
        data = query.data or ""
        found = next((r for r in BUTTONS if r.pattern.match(data)), None)
        need = found.need if found else None
        numbers = [part for part in data.split(":") if part.isascii() and part.isdigit()]
        if any(int(part) > MAX_ID for part in numbers):
            need = None  # no row has such an id (and PostgreSQL's integers end before it)
    svc = services(context)
    allowed = False
    if need is not None:
        async with svc.sessions() as session:
            who = await access.caller(session, update.effective_user.id, svc.settings)
            meeting = None
            if found is not None and found.meeting is not None:
                meeting_id = await found.meeting(session, (query.data or "").split(":"))
                meeting = await meetings.load(session, meeting_id) if meeting_id else None
            allowed = access.allows(need, who, meeting)
    if allowed:
        return
    t = await translator_for(update, context)
    if query is not None:
        await query.answer(t.gettext("This button is not for you."), show_alert=True)
    else:
        await update.effective_message.reply_text(
            t.gettext(
                "Only professionals approved in Kerralla can convene and see meetings. "
                "Ask your administrator for an invitation link."
            )
        )
    raise ApplicationHandlerStop


def install(application: Application) -> None:
    application.add_handler(TypeHandler(Update, gate), group=-1)
