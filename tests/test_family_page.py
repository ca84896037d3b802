"""The family's own page for those without Telegram: the meeting's time and place in their
language, the meeting for their calendar, and nothing for a link that is not valid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import build_web_app
from scheduling import meetings
from scheduling.models import Meeting, MeetingState, utcnow

from .factories import guardian_seat
from .harness import BotHarness
from .test_managing import sisukas


@pytest.fixture
async def client(bot: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(bot.services))) as test_client:
        yield test_client


async def family_link(bot: BotHarness, locale: str = "sv") -> tuple[int, str]:
    meeting_id = await sisukas(bot)
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        opened = await guardian_seat(session, meeting, locale, utcnow())
    assert opened.web_token is not None and opened.web_token != opened.telegram_token
    return meeting_id, opened.web_token


async def test_the_page_shows_the_meeting_in_the_familys_language(
    bot: BotHarness, client: TestClient
) -> None:
    meeting_id, token = await family_link(bot, "sv")
    response = await client.get(f"/f/{token}", headers={"Accept-Language": "fi"})
    html = await response.text()
    assert response.status == 200 and '<html lang="sv">' in html
    assert "<h1>Möte</h1>" in html
    assert "Tiden är ännu inte bestämd." in html
    assert "Plats: Skolans mötesrum" in html
    assert "SS-7" not in html and "Sisukas" not in html  # no case label, no meeting type
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "kerralla.ics" not in html  # nothing for the calendar before a time is fixed

    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id, lock=True)
        convener = meeting.convener
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, bot.services.settings, utcnow(), by=convener, confirmed=True
        )
    html = await (await client.get(f"/f/{token}?lang=fi")).text()
    assert '<html lang="fi">' in html and "<h1>Tapaaminen</h1>" in html
    local = start.astimezone(ZoneInfo("Europe/Helsinki"))
    assert f"{local.day}.{local.month}.{local.year} klo {local.hour}.00–" in html
    assert f'href="/f/{token}/kerralla.ics"' in html

    download = await client.get(f"/f/{token}/kerralla.ics")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="kerralla.ics"'
    calendar = icalendar.Calendar.from_ical(await download.read())
    event = calendar.walk("VEVENT")[0]
    assert calendar["METHOD"] == "PUBLISH" and str(event["SUMMARY"]) == "Möte"
    assert event.decoded("DTSTART").astimezone(UTC) == start


async def test_a_link_that_is_not_valid_shows_nothing(bot: BotHarness, client: TestClient) -> None:
    meeting_id, token = await family_link(bot)
    for wrong in ["x" * 32, token[:-1] + ("A" if token[-1] != "A" else "B")]:
        response = await client.get(f"/f/{wrong}", headers={"Accept-Language": "sv-FI"})
        assert response.status == 404
        assert "Länken är inte giltig" in await response.text()
        assert (await client.get(f"/f/{wrong}/kerralla.ics")).status == 404
    # An expired link looks the same.
    async with bot.services.sessions() as session, session.begin():
        from sqlalchemy import update

        from scheduling.models import AccessToken

        await session.execute(update(AccessToken).values(expires_at=utcnow() - timedelta(days=1)))
    assert (await client.get(f"/f/{token}")).status == 404
    async with bot.services.sessions() as session:
        assert (await session.get(Meeting, meeting_id)).state == MeetingState.COLLECTING
