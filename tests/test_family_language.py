"""The family page keeps its word about languages (issue 13, point 6): its switcher offers plain
Finnish (selkosuomi) too; switching changes the questions' language, not only the page's;
each answer keeps the language it was written in and says so (`lang`) wherever it is shown; and
the summary tells two guardians apart."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import build_web_app
from scheduling import meetings, questionnaire, summaries
from scheduling.models import AccessChannel, utcnow

from .factories import guardian_seat
from .harness import BotHarness
from .test_managing import sisukas

DEFAULTS = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "scheduling/data/defaults.toml").read_text()
)
# The Sisukas set's questions for the adults, as the shipped file words them.
ADULTS = [
    q
    for s in DEFAULTS["question_sets"]
    if s["key"] == "sisukas"
    for q in s["questions"]
    if not q.get("for_child")
]


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def guardian_link(bot: BotHarness, meeting_id: int, locale: str = "fi") -> str:
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        opened = await guardian_seat(session, meeting, locale, utcnow())
    assert opened.web_token is not None
    return opened.web_token


def heading(html: str) -> str:
    found = re.search(r"<h1>(?:<label[^>]*>)?(.*?)(?:</label>)?</h1>", html, re.S)
    assert found, html
    return unescape(found.group(1)).strip()


def switcher(html: str) -> list[tuple[str, str | None]]:
    """The language switcher as a reader meets it: (name, where it leads; None if current)."""
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", html, re.S).group(1)
    found = []
    for item in re.findall(r"<li>(.*?)</li>", nav, re.S):
        link = re.search(r'<a href="([^"]*)"[^>]*>(.*?)</a>', item)
        if link:
            found.append((link.group(2), unescape(link.group(1))))
        else:
            found.append((re.sub(r"<[^>]+>", "", item), None))
    return found


async def answer(client: TestClient, path: str, words: str) -> None:
    """Write an answer on a question page and go on, as the family's browser does."""
    page = await client.get(path)
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    sent = await client.post(
        path, data={"csrf": csrf, "answer": words, "action": "next"}, allow_redirects=False
    )
    assert sent.status == 303, await sent.text()


async def test_the_switcher_offers_plain_finnish_for_the_questions(
    bot: BotHarness, client: TestClient
) -> None:
    token = await guardian_link(bot, await sisukas(bot))
    html = await (await client.get(f"/f/{token}")).text()
    offered = switcher(html)
    assert [name for name, _ in offered] == ["suomi", "selkosuomi", "svenska", "English"]
    assert offered[0][1] is None  # the link was made in Finnish: suomi is the current one
    plain = dict(offered)["selkosuomi"]
    assert 'lang="fi"' in html.split("selkosuomi")[0].rsplit("<a", 1)[1]  # plain Finnish is fi

    # The questions in plain Finnish, and on to the next one in plain Finnish too.
    first = await client.get(plain.replace(f"/f/{token}", f"/f/{token}/q/1"))
    html = await first.text()
    assert heading(html) == ADULTS[0]["texts"]["fi-selko"] != ADULTS[0]["texts"]["fi"]
    assert '<html lang="fi">' in html
    assert [name for name, link in switcher(html) if link is None] == ["selkosuomi"]
    assert f'action="/f/{token}/q/1?lang=fi-selko"' in html
    await answer(client, f"/f/{token}/q/1?lang=fi-selko", "Hyvin menee.")
    second = await (await client.get(f"/f/{token}/q/2?lang=fi-selko")).text()
    assert heading(second) == ADULTS[1]["texts"]["fi-selko"]


async def test_switching_language_changes_the_questions_and_answers_keep_theirs(
    bot: BotHarness, client: TestClient
) -> None:
    token = await guardian_link(bot, await sisukas(bot), "fi")
    # Made in Finnish; the guardian switches the page to Swedish.
    html = await (await client.get(f"/f/{token}/q/1?lang=sv")).text()
    assert '<html lang="sv">' in html
    assert heading(html) == ADULTS[0]["texts"]["sv"]
    await answer(client, f"/f/{token}/q/1?lang=sv", "Hon trivs i skolan.")
    # Back in Finnish for the second question.
    html = await (await client.get(f"/f/{token}/q/2?lang=fi")).text()
    assert heading(html) == ADULTS[1]["texts"]["fi"]
    await answer(client, f"/f/{token}/q/2?lang=fi", "Läksyt jäävät tekemättä.")
    # Saving the first answer again unchanged on the Finnish page keeps it Swedish.
    await answer(client, f"/f/{token}/q/1?lang=fi", "Hon trivs i skolan.")

    review = await (await client.get(f"/f/{token}/review?lang=en")).text()
    assert ADULTS[0]["texts"]["en"] in unescape(review)  # the questions in the page's language
    assert '<span lang="sv">Hon trivs i skolan.</span>' in review
    assert '<span lang="fi">Läksyt jäävät tekemättä.</span>' in review


async def test_the_summary_tells_two_guardians_apart_and_marks_languages(
    bot: BotHarness, client: TestClient
) -> None:
    meeting_id = await sisukas(bot)
    first, second = (
        await guardian_link(bot, meeting_id, "fi"),
        await guardian_link(bot, meeting_id, "sv"),
    )
    await answer(client, f"/f/{first}/q/2", "Äiti on väsynyt.")
    await answer(client, f"/f/{second}/q/2", "Pappa är orolig.")
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        for seat in [p for p in meeting.participants if p.family_member is not None]:
            member = seat.family_member
            response = await questionnaire.response_for(session, meeting, member)
            web = AccessChannel.WEB
            await questionnaire.set_consent(
                session, meeting, member, response, teacher.id, True, now, web
            )
            await questionnaire.submit(session, meeting, member, response, now, web)
        link = await summaries.new_link(session, meeting, teacher, now)

    html = await (await client.get(f"/s/{link}?lang=fi")).text()
    assert re.findall(r"<h2>(.*?)</h2>", html) == ["Huoltaja 1", "Huoltaja 2"]
    assert '<dd lang="fi">Äiti on väsynyt.</dd>' in html
    assert '<dd lang="sv">Pappa är orolig.</dd>' in html
    html = await (await client.get(f"/s/{link}?lang=sv")).text()
    assert re.findall(r"<h2>(.*?)</h2>", html) == ["Vårdnadshavare 1", "Vårdnadshavare 2"]
    assert f"<dt>{ADULTS[1]['texts']['sv']}</dt>" in unescape(html)
    assert '<dd lang="fi">Äiti on väsynyt.</dd>' in html  # as written, whatever the page
