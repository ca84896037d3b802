"""After the meeting each family member is asked one question — did you have to tell your story
again? — in the chat or on their page; `kerralla admin report` counts the answers anonymously."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web.app import build_web_app
from scheduling.crypto import unseal
from scheduling.models import Feedback, FeedbackAnswer

from .harness import DATA_KEY, BotHarness, button
from .test_cli import kerralla
from .test_plan import GUARDIAN, held


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def test_the_family_answers_in_the_chat_and_on_the_page(
    bot: BotHarness, client: TestClient, database_url: str, tmp_path: Path
) -> None:
    api = bot.api
    api.user(GUARDIAN, language_code="fi")
    _, web_token = await held(bot)
    asked = await api.wait_for_message(GUARDIAN, "jouduitko kertomaan asiasi uudelleen")
    assert [b["text"] for b in asked["reply_markup"]["inline_keyboard"][0]] == [
        "Ei",
        "Osittain",
        "Kyllä",
    ]
    api.press(GUARDIAN, asked["message_id"], button(asked, "Ei"))
    thanked = await api.wait_for(
        lambda: next(
            (m for m in api.messages(GUARDIAN) if "Vastasit: Ei." in m.get("text", "")), None
        )
    )
    assert thanked["message_id"] == asked["message_id"]  # the question became the thanks
    api.send_text(GUARDIAN, "Kerrankin <i>kaikki</i> tiesivät jo.")
    await api.wait_for_message(GUARDIAN, "Kiitos palautteestasi.")

    async with bot.services.sessions() as session:
        given = (await session.scalars(select(Feedback))).one()
    assert given.answer == FeedbackAnswer.NO
    assert b"kaikki" not in given.comment_encrypted
    assert unseal(bot.services.settings, given.comment_encrypted) == (
        "Kerrankin <i>kaikki</i> tiesivät jo."
    )

    # The same question on the page of the family member without Telegram; answering again
    # changes the answer.
    page = await client.get(f"/f/{web_token}")
    assert "Jouduitko kertomaan asiasi uudelleen" in await page.text()
    form = await (await client.get(f"/f/{web_token}/feedback")).text()
    assert " checked" not in form and '<label for="answer-no">Ei</label>' in form
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    refused = await client.post(
        f"/f/{web_token}/feedback", data={"csrf": csrf, "answer": "maybe", "comment": ""}
    )
    assert "Valitse yksi vastauksista." in await refused.text()
    changed = await client.post(
        f"/f/{web_token}/feedback", data={"csrf": csrf, "answer": "partly", "comment": ""}
    )
    html = await changed.text()
    assert "Kiitos palautteestasi." in html and 'value="partly" checked' in html
    forged = await client.post(f"/f/{web_token}/feedback", data={"csrf": "x", "answer": "yes"})
    assert forged.status == 403
    again = await client.post(
        f"/f/{web_token}/feedback", data={"csrf": csrf, "answer": "yes", "comment": ""}
    )
    assert 'value="yes" checked' in await again.text()
    async with bot.services.sessions() as session:
        rows = (await session.scalars(select(Feedback).order_by(Feedback.id))).all()
    assert [r.answer for r in rows] == [FeedbackAnswer.NO, FeedbackAnswer.YES]

    # The report counts without naming anyone.
    result = await asyncio.to_thread(
        kerralla,
        "admin",
        "report",
        cwd=tmp_path,
        DATABASE_URL=database_url,
        DATA_KEY=DATA_KEY,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("sisukas"))
    assert line.split()[2:] == ["1", "0", "2", "50%"]
    assert "SS-7" not in result.stdout and "kaikki" not in result.stdout
