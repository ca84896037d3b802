"""Bad input on the family's page: a far too long answer, markup in an answer, another family's
form, a double submit, answering after the meeting — a clear message in the family's language,
nothing lost, nothing leaked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.web.app import build_web_app
from scheduling import meetings
from scheduling.models import (
    Answer,
    AuditEvent,
    Meeting,
    MeetingState,
    QuestionnaireResponse,
    ResponseState,
    utcnow,
)

from .factories import guardian_seat
from .harness import BotHarness
from .test_managing import sisukas


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def two_families(bot: BotHarness) -> tuple[int, str, str]:
    meeting_id = await sisukas(bot)
    links = []
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        for locale in ("sv", "fi"):
            opened = await guardian_seat(session, meeting, locale, utcnow())
            links.append(opened.web_token)
    return meeting_id, links[0], links[1]


async def csrf_of(client: TestClient, path: str) -> str:
    html = await (await client.get(path)).text()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def answers_stored(bot: BotHarness) -> int:
    async with bot.services.sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(Answer).where(Answer.value_encrypted.is_not(None))
        )


async def test_bad_input_changes_nothing_and_says_why_in_swedish(
    bot: BotHarness, client: TestClient
) -> None:
    meeting_id, mine, theirs = await two_families(bot)
    csrf = await csrf_of(client, f"/f/{mine}/q/1")

    # Far too long: refused in Swedish, the text stays on the page, nothing stored.
    long = "å" * 10_000
    page = await client.post(f"/f/{mine}/q/1", data={"csrf": csrf, "answer": long})
    html = await page.text()
    told = "Ditt svar är 10\u00a0000 tecken långt; högst 4\u00a0000 tecken ryms."
    assert page.status == 200 and told in html
    assert 'aria-invalid="true" aria-describedby="error help"' in html  # the field says why
    assert long in html
    assert await answers_stored(bot) == 0

    # Markup is kept as the family wrote it and shown as text, never as markup.
    script = "<script>alert('x')</script> & <b>fet</b>"
    saved = await client.post(
        f"/f/{mine}/q/1", data={"csrf": csrf, "answer": script}, allow_redirects=False
    )
    assert saved.status == 303
    review = await (await client.get(f"/f/{mine}/review")).text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;fet&lt;/b&gt;" in review
    assert "<script>alert" not in review and "<b>fet</b>" not in review

    # My form's value does not work on the other family's link.
    forged = await client.post(f"/f/{theirs}/q/1", data={"csrf": csrf, "answer": "hijack"})
    assert forged.status == 403
    assert await answers_stored(bot) == 1

    # Sending twice: sent once, the second changes nothing.
    for _ in range(2):
        sent = await client.post(f"/f/{mine}/review", data={"csrf": csrf})
        assert "Tack! Dina svar är sparade" in await sent.text()
    async with bot.services.sessions() as session:
        submits = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "answers.submit")
        )
        states = (await session.scalars(select(QuestionnaireResponse.state))).all()
    assert submits == 1 and states == [ResponseState.SUBMITTED]

    # Once the meeting is over (here: cancelled): a clear message, the earlier answer kept.
    async with bot.services.sessions() as session, session.begin():
        (await session.get(Meeting, meeting_id)).state = MeetingState.CANCELLED
    late = await client.post(f"/f/{mine}/q/1", data={"csrf": csrf, "answer": "ändrat"})
    assert "Mötet är över, så svaren kan inte längre ändras." in await late.text()
    review = await (await client.get(f"/f/{mine}/review")).text()
    assert "&lt;b&gt;fet&lt;/b&gt;" in review and "ändrat" not in review
