"""The secret-link pages as an attacker meets them: a link that is not valid for any reason
looks and costs the same as one that never existed, oversized posts are refused and change
nothing, and guessing or hammering is slowed down per link and per address."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import ip_network

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import selectinload

from bot.services import Services
from bot.web.app import build_web_app
from bot.web.limits import SlidingWindow
from scheduling import questionnaire, tokens
from scheduling.models import (
    AccessToken,
    AuditEvent,
    FamilyMember,
    Meeting,
    Participant,
    QuestionKind,
    QuestionnaireResponse,
    TokenPurpose,
    utcnow,
)

from .harness import BotHarness
from .test_family_page import family_link


async def serve(services: Services, **settings: object) -> TestClient:
    if settings:
        changed = services.settings.model_copy(update=settings)
        services = dataclasses.replace(services, settings=changed)
    client = TestClient(TestServer(build_web_app(services)))
    await client.start_server()
    return client


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    test_client = await serve(bot.services)
    yield test_client
    await test_client.close()


async def not_valid_links(bot: BotHarness, meeting_id: int, web_token: str) -> dict[str, str]:
    """For the family's seat: one link of every kind that must not work on /f/."""
    now = utcnow()
    row_of = tokens.token_hash(web_token)
    async with bot.services.sessions() as session, session.begin():
        live = await session.scalar(sa.select(AccessToken).where(AccessToken.token_hash == row_of))
        seat = {"participant_id": live.participant_id, "meeting_id": meeting_id}
        made = {
            kind: await tokens.issue(session, TokenPurpose.FAMILY_FORM, until, **seat)
            for kind, until in [
                ("expired", now - timedelta(minutes=1)),
                ("revoked", now + timedelta(days=1)),
                ("used", now + timedelta(days=1)),
            ]
        }
        made["other purpose"] = await tokens.issue(
            session, TokenPurpose.SUMMARY_VIEW, now + timedelta(days=1), **seat
        )
        for kind, column in [("revoked", "revoked_at"), ("used", "used_at")]:
            await session.execute(
                sa.update(AccessToken)
                .where(AccessToken.token_hash == tokens.token_hash(made[kind]))
                .values({column: now})
            )
    made["unknown"] = secrets.token_urlsafe(tokens.TOKEN_BYTES)
    made["near miss"] = web_token[:-1] + ("A" if web_token[-1] != "A" else "B")
    return made


async def answer(client: TestClient, method: str, path: str) -> tuple[int, str, dict[str, str]]:
    if method == "POST":
        response = await client.post(path, data={"csrf": "x", "answer": "kokeilu"})
    else:
        response = await client.get(path, allow_redirects=False)
    headers = {k: v for k, v in response.headers.items() if k not in {"Date"}}
    return response.status, await response.text(), headers


ROUTES = [
    ("GET", "/f/{}"),
    ("GET", "/f/{}/kerralla.ics"),
    ("GET", "/f/{}/consent"),
    ("POST", "/f/{}/consent"),
    ("GET", "/f/{}/q/1"),
    ("POST", "/f/{}/q/1"),
    ("GET", "/f/{}/review"),
    ("POST", "/f/{}/review"),
    ("GET", "/s/{}"),
    ("GET", "/ics/{}.ics"),
]


async def test_links_that_are_not_valid_all_answer_the_same(
    bot: BotHarness, client: TestClient
) -> None:
    meeting_id, web_token = await family_link(bot, "fi")
    links = await not_valid_links(bot, meeting_id, web_token)
    assert (await client.get(f"/f/{web_token}")).status == 200  # the real one works
    for method, route in ROUTES:
        seen = {}
        for kind, token in links.items():
            status, body, headers = await answer(client, method, route.format(token))
            # The only difference allowed is the address asked for, echoed in the switcher.
            seen[kind] = (status, body.replace(token, "TOKEN"), headers)
        first = seen["unknown"]
        assert first[0] == 404, (method, route)
        for kind, outcome in seen.items():
            assert outcome == first, (method, route, kind)
    async with bot.services.sessions() as session:
        assert (await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))) == 0


async def test_every_link_that_is_not_valid_costs_one_identical_lookup(bot: BotHarness) -> None:
    """Timing: no row comes back for any of them, from the same one query by the hash, so an
    expired, revoked, used or wrong-purpose link takes the path of an unknown one."""
    meeting_id, web_token = await family_link(bot, "fi")
    links = await not_valid_links(bot, meeting_id, web_token)
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    def loaded(_row: AccessToken, _context: object) -> None:
        statements.append("a row came back")

    engine = bot.services.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(AccessToken, "load", loaded)
    try:
        queries = {}
        for kind, token in links.items():
            statements.clear()
            async with bot.services.sessions() as session:
                found = await tokens.find(session, token, utcnow(), TokenPurpose.FAMILY_FORM)
                assert found is None, kind
            queries[kind] = [s for s in statements if "access_tokens" in s or "row" in s]
        statements.clear()
        async with bot.services.sessions() as session:
            assert await tokens.find(session, web_token, utcnow(), TokenPurpose.FAMILY_FORM)
        valid = [s for s in statements if "access_tokens" in s or "row" in s]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        sa.event.remove(AccessToken, "load", loaded)
    assert len(queries["unknown"]) == 1
    assert all(q == queries["unknown"] for q in queries.values()), queries
    assert valid == [*queries["unknown"], "a row came back"]


async def first_free_text(bot: BotHarness, meeting_id: int) -> tuple[int, int, int]:
    """(question number on the page, question id, the family member's id)."""
    async with bot.services.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        seat = await session.scalar(
            sa.select(Participant).where(
                Participant.meeting_id == meeting_id, Participant.family_member_id.is_not(None)
            )
        )
        member = await session.get(FamilyMember, seat.family_member_id)
        response = await questionnaire.response_for(session, meeting, member)
        asked = await questionnaire.questions(session, response, member)
    number, question = next(
        (n, q) for n, q in enumerate(asked, 1) if q.kind == QuestionKind.FREE_TEXT
    )
    return number, question.id, member.id


async def saved_answers(bot: BotHarness, member_id: int) -> tuple[dict[int, object], int]:
    async with bot.services.sessions() as session:
        response = await session.scalar(
            sa.select(QuestionnaireResponse)
            .where(QuestionnaireResponse.family_member_id == member_id)
            .options(selectinload(QuestionnaireResponse.answers))
        )
        audited = await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        return questionnaire.read_answers(response, bot.services.settings), audited


async def test_an_oversized_post_is_refused_and_changes_nothing(
    bot: BotHarness, client: TestClient
) -> None:
    meeting_id, token = await family_link(bot, "fi")
    number, question_id, member_id = await first_free_text(bot, meeting_id)
    page = await (await client.get(f"/f/{token}/q/{number}")).text()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    saved = await client.post(
        f"/f/{token}/q/{number}",
        data={"csrf": csrf, "answer": "Alkuperäinen vastaus", "action": "next"},
        allow_redirects=False,
    )
    assert saved.status == 303
    before = await saved_answers(bot, member_id)
    assert before[0][question_id] == "Alkuperäinen vastaus"

    for action in ("next", "autosave"):
        refused = await client.post(
            f"/f/{token}/q/{number}",
            data={"csrf": csrf, "answer": "x" * (65 * 1024), "action": action},
        )
        assert refused.status == 413
    assert await saved_answers(bot, member_id) == before  # same answer, no new audit row


async def test_a_link_asked_for_too_often_is_slowed_down(bot: BotHarness) -> None:
    _, token = await family_link(bot, "sv")
    client = await serve(bot.services, rate_limit_per_token=3, rate_limit_per_address=1000)
    try:
        for _ in range(3):
            assert (await client.get(f"/f/{token}")).status == 200
        refused = await client.get(f"/f/{token}/q/1", headers={"Accept-Language": "sv"})
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        html = await refused.text()
        assert "<h1>För många förfrågningar</h1>" in html and '<html lang="sv">' in html
        assert refused.headers["Cache-Control"] == "no-store"
        assert refused.headers["Referrer-Policy"] == "no-referrer"
        finnish = await client.get(f"/f/{token}?lang=fi")
        assert "Liian monta pyyntöä" in await finnish.text()
        english = await client.get(f"/ics/{token}.ics", headers={"Accept-Language": "en"})
        assert english.status == 429  # /ics/ and /s/ count per link too
        # Another link from the same address is not held back; the front page never is.
        other = secrets.token_urlsafe(tokens.TOKEN_BYTES)
        assert (await client.get(f"/s/{other}")).status == 404
        assert (await client.get("/")).status == 200
    finally:
        await client.close()


async def test_an_address_guessing_links_is_slowed_down(bot: BotHarness) -> None:
    client = await serve(bot.services, rate_limit_per_token=100, rate_limit_per_address=5)
    try:
        guesses = [secrets.token_urlsafe(tokens.TOKEN_BYTES) for _ in range(6)]
        statuses = [(await client.get(f"/f/{g}")).status for g in guesses[:5]]
        assert statuses == [404] * 5
        refused = await client.get(f"/s/{guesses[5]}", headers={"Accept-Language": "en"})
        assert refused.status == 429 and "Too many requests" in await refused.text()
        # Without TRUSTED_PROXY, X-Forwarded-For is not believed: it is still the same address.
        forged = await client.get(f"/f/{guesses[0]}", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forged.status == 429
    finally:
        await client.close()


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(bot: BotHarness) -> None:
    client = await serve(
        bot.services,
        rate_limit_per_token=100,
        rate_limit_per_address=2,
        trusted_proxy=(ip_network("127.0.0.1/32"),),
    )
    try:

        async def status(forwarded: str) -> int:
            guess = secrets.token_urlsafe(tokens.TOKEN_BYTES)
            response = await client.get(f"/f/{guess}", headers={"X-Forwarded-For": forwarded})
            return response.status

        # The proxy appends the address it saw; whatever the client wrote before it is ignored.
        assert [await status(f"{fake}, 198.51.100.1") for fake in ("1.1.1.1", "2.2.2.2")] == [
            404,
            404,
        ]
        assert await status("3.3.3.3, 198.51.100.1") == 429
        assert await status("198.51.100.2") == 404  # another family, its own budget
        # A chain of trusted proxies is skipped from the right.
        assert await status("198.51.100.2, 127.0.0.1") == 404
        assert await status("198.51.100.2, 127.0.0.1") == 429
    finally:
        await client.close()


def test_the_window_slides() -> None:
    now = [1000.0]
    window = SlidingWindow(limit=2, window=60, clock=lambda: now[0])
    assert window.wait("a") == 0
    window.record("a")
    now[0] += 10
    window.record("a")
    assert window.wait("a") == pytest.approx(50)  # until the first of the two leaves the window
    assert window.wait("b") == 0
    now[0] += 50
    assert window.wait("a") == 0
    window.record("a")
    assert window.wait("a") == pytest.approx(10)


def test_memory_stays_bounded() -> None:
    now = [0.0]
    window = SlidingWindow(limit=1, window=60, clock=lambda: now[0], keys=100)
    for n in range(1000):
        now[0] += 0.001
        window.record(f"guess-{n}")
    assert len(window.events) <= 100
    assert window.wait("guess-999") > 0  # the most recent are kept
