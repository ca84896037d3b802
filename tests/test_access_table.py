"""Who may do what, as a table: every command and every kind of button × every kind of caller,
sent through the real bot. A refused action gets the refusal and changes nothing in the
database; an allowed one reaches its handler. The web routes are in the same table, by link."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import gate
from bot.commands import MENU
from bot.web.app import build_web_app
from scheduling import meetings, summaries
from scheduling.feeds import renew
from scheduling.models import (
    Base,
    FamilyRole,
    MeetingType,
    Organisation,
    OutboxMessage,
    OutboxState,
    ProfessionalState,
    TelegramUser,
    utcnow,
)

from . import factories as f
from .harness import BotHarness, callback_answer, running_bot
from .test_managing import CONVENER, PRINCIPAL, STRANGER, TEACHER, sisukas

FAMILY, OTHER_FAMILY, PENDING, OUTSIDER, ADMIN = 2005, 2006, 2010, 2011, 2012
CALLERS = {
    "stranger": STRANGER,
    "unapproved": PENDING,
    "outsider": OUTSIDER,  # an approved professional outside the meeting
    "participant": PRINCIPAL,
    "convener": CONVENER,
    "family": FAMILY,  # a family member of this meeting
    "other family": OTHER_FAMILY,  # a family member of another meeting
    "administrator": ADMIN,
}
PROFESSIONALS = {"outsider", "participant", "convener"}
IN_MEETING = {"participant", "convener", "family"}
EVERYONE = set(CALLERS)
REFUSED_BUTTON = "This button is not for you."
REFUSED_COMMAND = "Only professionals approved in Kerralla"


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[BotHarness]:
    async with running_bot(database_url, admin_telegram_ids=str(ADMIN)) as harness:
        yield harness


async def world(bot: BotHarness) -> dict[str, Any]:
    """A collecting Sisukas meeting with a guardian; another meeting with another family; an
    unapproved and an outside professional; an administrator who is nothing else."""
    meeting_id = await sisukas(bot)
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        org = await session.get(Organisation, meeting.organisation_id)
        for uid in (FAMILY, OTHER_FAMILY, ADMIN):
            session.add(TelegramUser(id=uid, locale="en"))
        pending = await f.professional(
            session, org, telegram_id=PENDING, state=ProfessionalState.PENDING
        )
        outsider = await f.professional(session, org, telegram_id=OUTSIDER)
        family = await f.family_member(session, telegram_user_id=FAMILY, locale="en")
        await f.seat(session, meeting, family, role="guardian")
        kind = await session.get(MeetingType, meeting.meeting_type_id)
        other = await f.meeting(session, outsider, kind)
        other_family = await f.family_member(session, telegram_user_id=OTHER_FAMILY, locale="en")
        await f.seat(session, other, other_family, role="guardian")
        meeting = await meetings.load(session, meeting_id)
        teacher_seat = next(p for p in meeting.participants if p.role == "teacher")
        candidate = meetings.current_candidates(meeting)[0]
        opened = await meetings.open_seat(
            session,
            meeting,
            "guardian",
            family_role=FamilyRole.GUARDIAN,
            required=False,
            locale="en",
            now=utcnow(),
        )
        summary_link = await summaries.new_link(session, meeting, teacher_seat, utcnow())
        feed_link = await renew(session, await session.get(TelegramUser, TEACHER), utcnow())
        pending_id = pending.id
        for uid in (PENDING, OUTSIDER, CONVENER, TEACHER, PRINCIPAL):
            (await session.get(TelegramUser, uid)).locale = "en"  # one language for the table
    for uid in CALLERS.values():
        bot.api.user(uid, language_code="en")
    for uid in (CONVENER, PRINCIPAL):
        bot.api.user(uid, language_code="en")
    return {
        "m": meeting_id,
        "seat": teacher_seat.id,
        "cand": candidate.id,
        "pending": pending_id,
        "family_link": opened.web_token,
        "summary_link": summary_link,
        "feed_link": feed_link,
    }


# Each button: its data (filled from the world) and who may press it.
BUTTONS = [
    ("card:{m}", IN_MEETING),
    ("av:{cand}:y", IN_MEETING),
    ("rem:{m}", {"convener"}),
    ("co:{m}", {"convener"}),
    ("move:{m}", {"convener"}),
    ("cancel:{m}", {"convener"}),
    ("next:{m}", {"convener"}),
    ("plan:{m}", {"convener"}),
    ("fq:start:{m}", {"family"}),
    ("fq:who:{seat}", {"family"}),
    ("fq:intro", {"family", "other family"}),
    ("fr:menu:{m}", {"family"}),
    ("fr:dl:{m}", {"family"}),
    ("fr:t:{m}:{seat}", {"family"}),
    ("fr:del:{m}", {"family"}),
    ("fb:{m}:no", {"family"}),
    ("cv:type:1", PROFESSIONALS),
    ("pl:add", PROFESSIONALS),
    ("mv:direct", PROFESSIONALS),
    ("cal:off", PROFESSIONALS),
    ("me:dl", PROFESSIONALS),
    ("me:del", PROFESSIONALS),
    ("feed:new", EVERYONE),
    ("lang:en", EVERYONE),
    ("card:987654", set()),  # a meeting that does not exist
    ("zz:{m}", set()),  # forged data
    ("cos:{m}:{seat}", {"convener"}),  # names the teacher co-convener
    ("fix:{cand}:<", {"convener"}),  # back from the question: the times again
    ("fix:{cand}", {"convener"}),  # the teacher has not answered: asks first
    ("fix:{cand}:!", {"convener"}),  # confirmed: fixes the time
    ("decide:yes:{pending}", {"administrator"}),  # approves the unapproved one: last
]
COMMANDS = [
    ("/uusi", PROFESSIONALS),
    ("/new", PROFESSIONALS),
    ("/ny", PROFESSIONALS),
    ("/kalenteri", PROFESSIONALS),
    ("/kalender", PROFESSIONALS),
    ("/tapaamiset", PROFESSIONALS | {"family", "other family"}),
    ("/moten", PROFESSIONALS | {"family", "other family"}),
    ("/apua", EVERYONE),
    ("/hjalp", EVERYONE),
    ("/kieli", EVERYONE),
    ("/sprak", EVERYONE),
    ("/peru", EVERYONE),
    ("/avbryt", EVERYONE),
    ("/omat_tiedot", EVERYONE),
    ("/mina_uppgifter", EVERYONE),
]


def test_every_name_of_a_command_is_let_through_alike() -> None:
    """Each alias (Finnish, Swedish, English) needs exactly what its command needs, and every
    name in the menus is a rule of the gate and a valid Telegram command name."""
    for command in MENU:
        needs = {name: gate.COMMANDS.get(name) for name in command.names}
        assert None not in needs.values() and len(set(needs.values())) == 1, needs
        assert len(set(command.names)) == 3
        assert all(re.fullmatch(r"[a-z0-9_]{1,32}", name) for name in command.names)
    every = [name for command in MENU for name in command.names]
    assert len(every) == len(set(every)), "two commands share a name"
    # The table below sends each Finnish and Swedish name and one English one through the bot.
    sent = {c[1:] for c, _ in COMMANDS}
    assert {c.finnish for c in MENU} | {c.swedish for c in MENU} <= sent


async def snapshot(session: AsyncSession) -> dict[str, list[str]]:
    """Every row of every table but the bot's own bookkeeping of who wrote and which updates it
    has handled (that records the refused update too)."""
    rows = {}
    for table in Base.metadata.sorted_tables:
        if table.name in {"telegram_users", "conversation_states", "worker_heartbeats"}:
            continue
        rows[table.name] = sorted(repr(tuple(r)) for r in await session.execute(select(table)))
    return rows


async def settled(bot: BotHarness) -> None:
    """Wait until the outbox has sent what it had, so that a snapshot holds still."""

    async def idle() -> bool | None:
        async with bot.services.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
            )
        return waiting == 0 or None

    for _ in range(200):
        if await idle():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not settle")


async def test_every_button_and_command_for_every_caller(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    found = await world(bot)
    problems = []
    # Commands first: the last button approves the unapproved professional.
    for command, allowed in COMMANDS:
        for kind, uid in CALLERS.items():
            await settled(bot)
            async with bot.services.sessions() as session:
                before = await snapshot(session)
            latest = max((m["message_id"] for m in api.messages(uid)), default=0)
            api.send_text(uid, command)
            reply = await api.wait_for_message(uid, after=latest)
            refused = reply["text"].startswith(REFUSED_COMMAND)
            if refused != (kind not in allowed):
                problems.append(f"{command} by {kind}: {'refused' if refused else 'allowed'}")
            if refused:
                async with bot.services.sessions() as session:
                    if await snapshot(session) != before:
                        problems.append(f"{command} by {kind}: refused but changed the database")
            api.send_text(uid, "/peru")  # leave any conversation the command began
            await api.wait_for_message(uid, after=reply["message_id"])
    for template, allowed in BUTTONS:
        data = template.format(**found)
        for kind, uid in CALLERS.items():
            await settled(bot)
            async with bot.services.sessions() as session:
                before = await snapshot(session)
            latest = max((m["message_id"] for m in api.messages(uid)), default=0)
            api.send_text(uid, "/apua")  # a message of the bot's to hang the button on
            message = await api.wait_for_message(uid, after=latest)
            query = api.press(uid, message["message_id"], data, check=False)
            answer = await callback_answer(api, query)
            refused = answer.get("text") == REFUSED_BUTTON
            await settled(bot)
            failures = [r for r in caplog.records if r.levelname == "ERROR"]
            if failures:
                problems.append(f"{data} by {kind}: {failures[0].getMessage()}")
                caplog.clear()
            if refused != (kind not in allowed):
                problems.append(f"{data} by {kind}: {'refused' if refused else 'allowed'}")
            if refused:
                async with bot.services.sessions() as session:
                    after = await snapshot(session)
                    if after != before:
                        changed = [t for t in after if after[t] != before[t]]
                        problems.append(f"{data} by {kind}: refused but changed {changed}")
    assert problems == [], "\n".join(problems)


async def test_every_web_route_for_every_link(bot: BotHarness) -> None:
    """Each link opens only its own pages: a family link is not a summary link, a calendar
    feed is not a family page, and a made-up link opens nothing; on each route every refusal
    is the same page."""
    found = await world(bot)
    links = {
        "family": found["family_link"],
        "summary": found["summary_link"],
        "feed": found["feed_link"],
        "made up": "A" * 32,
    }
    routes = {
        "/f/{}": "family",
        "/f/{}/consent": "family",
        "/f/{}/q/1": "family",
        "/f/{}/review": "family",
        "/f/{}/feedback": "family",
        "/f/{}/data": "family",
        "/f/{}/kerralla-my-data.json": "family",
        "/s/{}": "summary",
        "/ics/{}.ics": "feed",
    }
    problems = []
    async with TestClient(TestServer(build_web_app(bot.services))) as client:
        for route, owner in routes.items():
            refusals = set()
            for kind, token in links.items():
                response = await client.get(route.format(token), allow_redirects=False)
                opened = response.status in {200, 303}
                if opened != (kind == owner):
                    problems.append(f"{route} with a {kind} link: {response.status}")
                if not opened:
                    body = (await response.text()).replace(token, "TOKEN")
                    refusals.add((response.status, body))
            if len(refusals) != 1:  # a wrong link and a made-up one look the same
                problems.append(f"{route}: {len(refusals)} different refusals")
    assert problems == []
