"""Hostile input, generated: random Unicode, control characters, right-to-left marks, texts of
Telegram's full 4,096 characters, malformed dates in the middle of conversations, forged and
stale button data, and malformed or oversized web form posts — through the real handlers and
routes. Every message gets an answer, nothing fails unhandled, and a refused button changes
nothing. KERRALLA_FUZZ_EXAMPLES sets how many sequences of up to ten to try (default 25, about
150 messages and 25 form posts; `KERRALLA_FUZZ_EXAMPLES=500` sends thousands)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.web.app import build_web_app
from scheduling.models import Answer

from .harness import BotHarness, callback_answer
from .test_access_table import CALLERS, REFUSED_BUTTON, settled, snapshot, world

EXAMPLES = int(os.environ.get("KERRALLA_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as people (and attackers) type it: any Unicode, with the awkward parts made likely.
awkward = st.sampled_from(
    ["\u202e", "\u200f", "\u200b", "\x00", "\x1b[31m", "\r\n", "\u2028", "👨‍👩‍👧", "ä", "<b>", "&"]
)
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(awkward, st.text(max_size=5)), max_size=40).map("".join),
    st.integers(1, 4096).map(lambda n: ("å" * n)[:4096]),
    st.sampled_from(
        ["31.2.", "ti 30.2. klo 25", "0.0.", "huomenna klo 99", "1.12.–", "-5", "15.1.2099"]
    ),
)
commands = st.sampled_from(
    ["/uusi", "/new", "/ny", "/tapaamiset", "/moten", "/kalenteri", "/kieli", "/sprak",
     "/apua", "/hjalp", "/peru", "/avbryt", "/start",
     "/start x", "/start " + "A" * 64, "/tuntematon"]
)  # fmt: skip
forged = st.one_of(
    st.text(min_size=1, max_size=64).filter(lambda d: len(d.encode()) <= 64),
    st.builds(
        lambda prefix, number: f"{prefix}:{number}",
        st.sampled_from(
            ["card", "av", "fix", "rem", "co", "cos", "cancel", "move", "next", "plan",
             "fq:start", "fq:who", "fr:menu", "fr:del!", "fb", "decide:yes", "cv:type",
             "pl", "access:org"]
        ),
        st.one_of(st.integers(-5, 10**12), st.text(max_size=8)),
    ),
)  # fmt: skip
actions = st.lists(
    st.tuples(
        st.sampled_from(sorted(CALLERS)),
        st.one_of(
            st.tuples(st.just("text"), texts),
            st.tuples(st.just("command"), commands),
            st.tuples(st.just("button"), forged),
        ),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture
async def fuzzed(bot: BotHarness) -> AsyncIterator[tuple[BotHarness, str]]:
    """The table test's world: callers of every kind; and one family's web link."""
    found = await world(bot)
    yield bot, found["family_link"]


@FUZZ
@given(sequence=actions)
@example(  # what earlier runs found: a NUL in a label, an id beyond PostgreSQL's integers
    sequence=[
        ("convener", ("command", "/uusi")),
        ("convener", ("text", "SS\x00-7")),
        ("participant", ("button", "card:1000000000000")),
        ("family", ("button", "fr:t:1:99999999999")),
    ]
)
async def test_chat_survives_anything(
    fuzzed: tuple[BotHarness, str], caplog: pytest.LogCaptureFixture, sequence: list
) -> None:
    bot, _ = fuzzed
    api = bot.api
    for kind, (how, value) in sequence:
        uid = CALLERS[kind]
        latest = max((m["message_id"] for m in api.messages(uid)), default=0)
        if how == "button":
            await settled(bot)
            async with bot.services.sessions() as session:
                before = await snapshot(session)
            api.send_text(uid, "/apua")
            message = await api.wait_for_message(uid, after=latest)
            query = api.press(uid, message["message_id"], value, check=False)
            answer = await callback_answer(api, query)
            assert answer.get("text"), f"no answer to {value!r}"
            if answer["text"] == REFUSED_BUTTON:
                await settled(bot)
                async with bot.services.sessions() as session:
                    assert await snapshot(session) == before, f"{value!r} changed something"
        else:
            api.send_text(uid, value if value.strip() else value + ".")
            reply = await api.wait_for_message(uid, after=latest)
            assert reply.get("text") or reply.get("document")
        errors = [r.getMessage() for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
        assert errors == [], f"{kind} sent {how} {value!r}: {errors}"
    # Leave every conversation, so that the next sequence starts from the same place.
    for uid in {CALLERS[kind] for kind, _ in sequence}:
        latest = max((m["message_id"] for m in api.messages(uid)), default=0)
        api.send_text(uid, "/peru")
        await api.wait_for_message(uid, after=latest)


form_values = st.one_of(texts, st.binary(max_size=300).map(lambda b: b.decode("latin-1")))


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["answer", "action", "csrf", "reader", "confirm", "comment", "x"]),
        form_values,
        max_size=6,
    ),
    path=st.sampled_from(
        ["/q/1", "/q/2", "/q/3", "/q/99", "/consent", "/review", "/feedback", "/data"]
    ),
    real_csrf=st.booleans(),
)  # fmt: skip
async def test_family_pages_survive_any_form(
    fuzzed: tuple[BotHarness, str],
    caplog: pytest.LogCaptureFixture,
    fields: dict,
    path: str,
    real_csrf: bool,
) -> None:
    bot, link = fuzzed
    async with TestClient(TestServer(build_web_app(bot.services))) as client:
        page = await (await client.get(f"/f/{link}/q/1")).text()
        if real_csrf:
            fields["csrf"] = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        async with bot.services.sessions() as session:
            answers_before = await session.scalar(select(func.count()).select_from(Answer))
        response = await client.post(f"/f/{link}{path}", data=fields, allow_redirects=False)
        assert response.status in {200, 303, 403, 413, 422}, response.status
        if response.status == 403:
            async with bot.services.sessions() as session:
                assert await session.scalar(select(func.count()).select_from(Answer)) == (
                    answers_before
                )
        # The family's page still opens after whatever was posted.
        assert (await client.get(f"/f/{link}")).status == 200
    errors = [r.getMessage() for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
    assert errors == []
