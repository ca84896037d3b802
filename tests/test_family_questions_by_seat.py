"""Each family seat is asked the questions of its kind only: a guardian or a foster parent the
adults' questions, the child or young person the child's — for every shipped meeting type, on
the web page and in the Telegram chat alike (issue 13, point 2).

What is expected is read from the shipped `defaults.toml` itself, as its comment puts it:
`for_child = true: asked of the child or young person, not of the adults`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web.app import build_web_app
from scheduling import meetings
from scheduling.catalog_data import ensure_defaults
from scheduling.models import FamilyRole, MeetingState, MeetingType, utcnow

from . import factories as f
from .harness import BotHarness, button

DEFAULTS = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "scheduling/data/defaults.toml").read_text()
)
SETS = {s["key"]: s["questions"] for s in DEFAULTS["question_sets"]}
# Every shipped meeting type with a question set, with each family seat it has.
SEATS = [
    (kind["key"], role["key"])
    for kind in DEFAULTS["meeting_types"]
    if kind.get("question_set")
    for role in kind["roles"]
    if role.get("is_family")
]
FAMILY_UID = 7301


def expected(kind_key: str, role: str) -> list[str]:
    """The Finnish question texts of the type's set meant for this kind of seat."""
    kind = next(k for k in DEFAULTS["meeting_types"] if k["key"] == kind_key)
    child = role == "child"
    return [
        q["texts"]["fi"] for q in SETS[kind["question_set"]] if q.get("for_child", False) == child
    ]


def test_every_type_and_kind_of_family_seat_is_covered() -> None:
    assert {kind for kind, _ in SEATS} == {
        "perhekeskustiimi",
        "sisukas",
        "pikku-sisukas",
        "tyoparikonsultaatio",
    }
    assert {role for _, role in SEATS} == {"guardian", "foster_parent", "child"}
    # The child's question is never among an adult's, and each adult has questions to answer.
    assert "Mitä haluaisit itse sanoa aikuisille?" in expected("sisukas", "child")[-1]
    assert not any("aikuisille" in text for text in expected("sisukas", "guardian"))
    assert all(expected(kind, role) for kind, role in SEATS)


async def family_seat(bot: BotHarness, kind_key: str, role: str) -> meetings.OpenSeat:
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        await ensure_defaults(session)
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=7201)
        kind = await session.scalar(select(MeetingType).where(MeetingType.key == kind_key))
        today = now.date()
        meeting = await f.meeting(
            session,
            convener,
            kind,
            state=MeetingState.COLLECTING,
            window_start=today + timedelta(days=1),
            window_end=today + timedelta(days=14),
        )
        meeting = await meetings.load(session, meeting.id)
        return await meetings.open_seat(
            session,
            meeting,
            role,
            family_role=FamilyRole(role),
            required=False,
            locale="fi",
            now=now,
        )


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


def heading(html: str) -> str:
    found = re.search(r"<h1>(?:<label[^>]*>)?(.*?)(?:</label>)?</h1>", html, re.S)
    assert found, html
    return unescape(found.group(1)).strip()


@pytest.mark.parametrize(("kind", "role"), SEATS)
async def test_the_page_asks_the_seats_own_questions(
    bot: BotHarness, client: TestClient, kind: str, role: str
) -> None:
    seat = await family_seat(bot, kind, role)
    seen = []
    number = 1
    while True:
        response = await client.get(
            f"/f/{seat.web_token}/q/{number}?lang=fi", allow_redirects=False
        )
        if response.status == 303:
            assert "/review" in response.headers["Location"]
            break
        html = await response.text()
        assert response.status == 200
        seen.append(heading(html))
        assert f"Kysymys {number}/" in html
        number += 1
    assert seen == expected(kind, role)
    review = await (await client.get(f"/f/{seat.web_token}/review?lang=fi")).text()
    assert all(unescape(text) in unescape(review) for text in seen)


@pytest.mark.parametrize(("kind", "role"), SEATS)
async def test_the_chat_asks_the_seats_own_questions(bot: BotHarness, kind: str, role: str) -> None:
    api = bot.api
    seat = await family_seat(bot, kind, role)
    api.user(FAMILY_UID, first_name="Perheen", last_name="Jäsen", language_code="fi")
    api.send_text(FAMILY_UID, f"/start {seat.telegram_token}")
    message = await api.wait_for_message(FAMILY_UID, "Olet nyt mukana tapaamisessa")

    async def tap(label: str, expect: str) -> dict:
        before = message
        api.press(FAMILY_UID, before["message_id"], button(before, label))

        def shown() -> dict | None:
            for candidate in reversed(api.messages(FAMILY_UID)):
                if candidate != before and expect in candidate.get("text", ""):
                    return candidate
            return None

        return await api.wait_for(shown)

    message = await tap("Vastaa kysymyksiin", "Millä kielellä?")
    message = await tap("suomi", "Vastauksesi poistetaan")
    message = await tap("Jatka", "Kuka saa lukea")
    message = await tap("Jatka kysymyksiin", "Kysymys 1/")
    total = int(re.search(r"Kysymys 1/(\d+)", message["text"]).group(1))
    seen = []
    for number in range(1, total + 1):
        paragraphs = message["text"].split("\n\n")
        assert paragraphs[0] == f"Kysymys {number}/{total}"
        seen.append(paragraphs[1])
        message = await tap(
            "Ohita", f"Kysymys {number + 1}/{total}" if number < total else "Vastauksesi:"
        )
    assert seen == expected(kind, role)
