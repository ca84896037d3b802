"""A professional gives their published calendar in the chat; an administrator gives a CalDAV
account on the command line. Kerralla checks the address and reads it at once."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from scheduling.crypto import unseal
from scheduling.models import Professional, TelegramUser

from . import factories as f
from .calendar_servers import feed_server
from .harness import running_bot
from .test_cli import kerralla


def feed_with_one_busy_time() -> bytes:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    stamp = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:x@example\r\nDTSTAMP:{start:{stamp}}\r\nDTSTART:{start:{stamp}}\r\n"
        f"DTEND:{start + timedelta(hours=1):{stamp}}\r\nSUMMARY:Private\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


async def test_a_professional_sets_and_removes_their_calendar(database_url: str) -> None:
    async with (
        feed_server({"me.ics": feed_with_one_busy_time()}) as server,
        running_bot(database_url, allow_loopback_calendars=True) as bot,
    ):
        api = bot.api
        async with bot.services.sessions() as session, session.begin():
            await f.professional(session, await f.organisation(session), telegram_id=501)
        api.user(501, language_code="fi")
        api.send_text(501, "/kalenteri")
        await api.wait_for_message(501, "Kerralla voi lukea julkaistun kalenterisi")
        api.send_text(501, "ftp://kalenteri.example.fi/me.ics")
        await api.wait_for_message(501, "Kalenterin osoite alkaa https://, http:// tai webcal://.")
        api.send_text(501, server.url("/feeds/me.ics"))
        await api.wait_for_message(
            501, "Tallennettu. Kerralla luki kalenterisi: 1 varattu aika seuraavan kahden viikon"
        )
        async with bot.services.sessions() as session:
            stored = await session.scalar(select(Professional.calendar_feed_url))
        assert stored == server.url("/feeds/me.ics")

        api.send_text(501, "/calendar")
        again = await api.wait_for_message(501, "Kalenterisi on jo yhdistetty.")
        api.press(501, again["message_id"], "cal:off")
        await api.wait_for_message(501, "Kalenterisi poistettiin.")
        async with bot.services.sessions() as session:
            assert await session.scalar(select(Professional.calendar_feed_url)) is None


def feed_with_a_broken_entry() -> tuple[bytes, datetime]:
    """One good event in two days, and "Koulutus" in three days with an RDATE that is no date;
    also the day of "Koulutus"."""
    good = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    broken = good + timedelta(days=1)
    stamp = "%Y%m%dT%H%M%SZ"
    events = [
        f"UID:good@example\r\nDTSTART:{good:{stamp}}\r\nDTEND:{good + timedelta(hours=1):{stamp}}",
        f"UID:broken@example\r\nDTSTART:{broken:{stamp}}\r\n"
        f"DTEND:{broken + timedelta(hours=1):{stamp}}\r\nRDATE:ensi viikolla\r\nSUMMARY:Koulutus",
    ]
    body = "".join(f"BEGIN:VEVENT\r\n{event}\r\nEND:VEVENT\r\n" for event in events)
    calendar = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"
    return calendar.encode(), broken


async def test_an_entry_that_cannot_be_read_is_named_to_its_owner_in_their_language(
    database_url: str,
) -> None:
    feed, broken = feed_with_a_broken_entry()
    day = f"{broken.day}.{broken.month}."  # within "ke 9.12." and "ons 9.12."
    async with (
        feed_server({"me.ics": feed}) as server,
        running_bot(database_url, allow_loopback_calendars=True) as bot,
    ):
        api = bot.api
        async with bot.services.sessions() as session, session.begin():
            organisation = await f.organisation(session)
            session.add(TelegramUser(id=502, locale="sv"))
            await f.professional(session, organisation, telegram_id=501)
            await f.professional(session, organisation, telegram_id=502)
        for user, language, command in ((501, "fi", "/kalenteri"), (502, "sv", "/calendar")):
            api.user(user, language_code=language)
            api.send_text(user, command)
            await api.wait_for_message(user)
            api.send_text(user, server.url("/feeds/me.ics"))

        finnish = await api.wait_for_message(501, "Tallennettu.")
        read, title, entry = finnish["text"].replace("\n\n", "\n").split("\n")
        assert read.endswith("1 varattu aika seuraavan kahden viikon aikana.")
        assert title == "Kalenterista ohitettiin 1 merkintä:"
        assert entry.startswith("”Koulutus” ")
        assert entry.endswith(f"{day} — RDATE ei ole kelvollinen päivämäärä")

        swedish = await api.wait_for_message(502, "Sparat.")
        read, title, entry = swedish["text"].replace("\n\n", "\n").split("\n")
        assert title == "1 händelse i din kalender lämnades bort:"
        assert entry.startswith("”Koulutus” ")
        assert entry.endswith(f"{day} — RDATE är inte ett giltigt datum")


async def test_an_administrator_gives_a_caldav_account_kept_encrypted(database_url: str) -> None:
    from .harness import DATA_KEY, settings_for_test

    async with running_bot(database_url) as bot:
        async with bot.services.sessions() as session, session.begin():
            professional = await f.professional(session, await f.organisation(session))
        result = await asyncio.to_thread(
            kerralla,
            "admin",
            "set-caldav",
            str(professional.id),
            "--url",
            "https://caldav.example.fi/dav/",
            "--username",
            "olli",
            cwd=Path(tempfile.gettempdir()),
            DATABASE_URL=database_url,
            DATA_KEY=DATA_KEY,
            KERRALLA_CALDAV_PASSWORD="salainen-sana",
        )
        assert result.returncode == 0, result.stderr
        async with bot.services.sessions() as session:
            stored = await session.get(Professional, professional.id)
        assert stored.caldav_url == "https://caldav.example.fi/dav/"
        assert b"salainen" not in stored.caldav_password_encrypted
        settings = settings_for_test(database_url, "http://127.0.0.1:9")
        assert unseal(settings, stored.caldav_password_encrypted) == "salainen-sana"
