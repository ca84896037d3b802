"""No personal data in the logs: a whole scenario runs with logging configured as in production
at DEBUG (`bot.logs.configure` with `cli_support.secrets`), through the real handlers over the
fake Bot API, the real SMTP path and the real web server, and nothing anyone typed, nobody's
name, address or Telegram id, and no secret (bot token, links, feed addresses) is logged.

Everything logged is searched, every logger and level, the libraries' too (python-telegram-bot,
httpx, aiohttp, aiosqlite/asyncpg, SQLAlchemy, Alembic, aiosmtplib), at the levels `configure`
leaves them: each record formatted in full as production's filters hand it on (a traceback if
one is left, the attributes the filters add), and everything written to stdout and stderr. Only
the SMTP server's own logger (aiosmtpd's `mail.log`) is quietened: it is the test's mail server,
not Kerralla. Numeric Telegram user ids count as personal data: they are persistent identifiers
of people (GDPR art. 4(1)), and a log line naming one says that this person uses the service."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from bot.app import start_web
from bot.cli_support import prepare_database, secrets
from bot.logs import CHATTY_LIBRARIES, configure
from scheduling.jobs import JobWorker
from scheduling.models import Meeting, OutboxMessage, OutboxState, Professional, utcnow
from scheduling.professionals import invite_professional

from . import factories as f
from .calendar_servers import free_port
from .harness import TOKEN, BotHarness, button, callback_answer, running_bot, settings_for_test
from .test_convening import (
    CONVENER,
    CURATOR,
    GUARDIAN,
    LOCALES,
    NURSE,
    SOCIAL,
    TEACHER,
    add_from_directory,
    button_label,
    choose,
    people,
    reply,
    tap,
)
from .test_invitations_flow import REFUSED, Inbox
from .test_managing import open_card

STRANGER, NEWCOMER = 1009, 1010
CANARY, FLOORED = "a canary record", "a canary below a floor"

# What people type: each must stay out of the logs.
IDENTITY_CODE = "010203A123B"
CASE_LABEL = "Kuusikoski KK-314"
PLACE = "Neuvola Pihlajakoti, huone Kielo"
CANCEL_REASON = "Lapsi sijoitettiin kiireellisesti Kuusikosken perhekotiin."
STRANGER_TEXT = "Olen Pirkko Pelkonen, lapseni tarvitsee lastensuojelun apua"
FAMILY_ANSWER = "Eetu nukkuu taas yönsä ja käy koulua mielellään"
FAMILY_WORRY = "Isän juominen pelottaa Eetua iltaisin"

TEACHER_EMAIL = "olli.opettaja@kuusilahti.example"
# A published calendar's address: the owner's address and a private token in its path.
FEED_OWNER = "sanna.sosiaali"
FEED_SECRET = "private-9f3c1e5a7b2d4c6e8f0a1b3c5d7e9f1a"

DISPLAY_NAMES = {
    CONVENER: "Kaisa Koivu",
    TEACHER: "Olli Opettaja",
    CURATOR: "Sara Kurator",
    NURSE: "Terhi Terveys",
    SOCIAL: "Sanna Sosiaali",
}
# Telegram profiles (first name, last name, username), unlike the directory's names on purpose.
PROFILES = {
    CONVENER: ("Kaisamaria", "Koivulahti", "kaisa_koivulahti"),
    TEACHER: ("Olavi", "Opettajainen", "olavi_ope"),
    CURATOR: ("Sarianna", "Kuratorsson", "sarianna_k"),
    NURSE: ("Terhikki", "Terveyskoski", "terhikki_t"),
    SOCIAL: ("Sannamari", "Sosiaalinen", "sannamari_s"),
    GUARDIAN: ("Hillevi", "Huoltajainen", "hillevi_h"),
    STRANGER: ("Pirkko", "Pelkonen", "pirkko_p"),
    NEWCOMER: ("Niilo", "Uusitalo", "niilo_uusitalo"),
}


# -- capturing what production logs ---------------------------------------------------------


STANDARD_ATTRIBUTES = {*vars(logging.makeLogRecord({})), "message", "asctime"}


@dataclass
class Entry:
    logger: str
    level: str
    where: str
    text: str


class Capture(logging.Handler):
    """Keeps every record the root logger hands on, formatted in full (traceback included).

    Added after `configure`'s handler, so it sees each record as production writes it (after the
    redaction filter), and the levels `configure` gives the libraries apply as in production.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.entries: list[Entry] = []
        self.formatter_ = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.formatter_.format(record)
        # Whatever else production's filters put on the record (an exception's kind, fields a
        # JSON formatter writes) is searched as well.
        extra = {k: v for k, v in vars(record).items() if k not in STANDARD_ATTRIBUTES}
        if extra:
            text += f" {extra!r}"
        self.entries.append(
            Entry(record.name, record.levelname, f"{record.pathname}:{record.lineno}", text)
        )


@contextlib.contextmanager
def production_logging(secret_values: list[str]) -> Iterator[Capture]:
    """`configure("DEBUG", secrets)` as `kerralla run` does; the previous set-up back after."""
    root = logging.getLogger()
    touched = [*CHATTY_LIBRARIES, "alembic.runtime.plugins", "mail.log"]
    saved_handlers, saved_root = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in touched}
    configure("DEBUG", secret_values)
    # aiosmtpd's logger: the test's SMTP server (it logs every envelope), not Kerralla.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    capture = Capture()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            if handler is not capture:
                handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def forbidden_values(
    secret_values: list[str], links: set[str]
) -> list[tuple[str, re.Pattern[str]]]:
    """(what it is, how to find it) for everything that must not be logged."""
    values: dict[str, str] = {
        "the case label": CASE_LABEL,
        "the place": PLACE,
        "the cancel reason": CANCEL_REASON,
        "an identity code typed as a case label": IDENTITY_CODE,
        "what a stranger typed": STRANGER_TEXT,
        "the family's answer": FAMILY_ANSWER,
        "the family's worry (saved while typing)": FAMILY_WORRY,
        "an email address": TEACHER_EMAIL,
        "a refused email address": REFUSED,
        "the calendar feed's owner": FEED_OWNER,
        "the calendar feed's secret": FEED_SECRET,
        "the bot token": TOKEN,
        "the bot token's secret part": TOKEN.split(":", 1)[1],
    }
    for i, value in enumerate(secret_values):
        if len(value) >= 8:  # as Redact: shorter ones would be found in every other word
            values.setdefault(f"secret {i} of cli_support.secrets()", value)
    values.update({f"a link's secret ({token[:4]}…)": token for token in links})
    for uid, name in DISPLAY_NAMES.items():
        values[f"{uid}'s display name"] = name
        for part in name.split():
            values[f"{uid}'s name ({part})"] = part
    for uid, (first, last, username) in PROFILES.items():
        values[f"{uid}'s Telegram name"] = f"{first} {last}"
        values[f"{uid}'s Telegram first name"] = first
        values[f"{uid}'s Telegram last name"] = last
        values[f"{uid}'s Telegram username"] = username
    patterns = [
        (label, re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE))
        for label, value in values.items()
    ]
    # Telegram user ids, as whole numbers (not line numbers, ports, decimals or parts of other
    # numbers; the scenario's row and update ids stay well below them).
    for uid in PROFILES:
        patterns.append(
            (f"Telegram user id {uid}", re.compile(rf"(?<![\w.:/-])(?<!line ){uid}(?!\d)"))
        )
    return patterns


def leaks(capture: Capture, written: str, patterns: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    """One line per (what leaked, where it was logged): how often, and the first occurrence."""
    found: dict[tuple[str, str], list[str]] = {}
    sources = [(f"{e.level} {e.logger} (logged at {e.where})", e.text) for e in capture.entries]
    sources.append(("stdout/stderr", written))
    for label, pattern in patterns:
        for source, text in sources:
            for match in pattern.finditer(text):
                start = max(0, match.start() - 100)
                excerpt = text[start : match.end() + 100].replace("\n", "⏎")
                found.setdefault((label, source), []).append(excerpt)
    return [
        f"{label} in {source}, {len(excerpts)}×: …{excerpts[0]}…"
        for (label, source), excerpts in found.items()
    ]


LINK = re.compile(r"(?:\?start=|/f/|/ics/)([A-Za-z0-9_-]{16,})")


def issued_links(api: Any) -> set[str]:
    """The secret of every link the bot showed anyone: invitations, family pages, feeds."""
    texts = [
        str(params.get(field) or "") for _, params in api.calls for field in ("text", "caption")
    ]
    return {token for text in texts for token in LINK.findall(text)}


# -- the scenario's pieces -------------------------------------------------------------------


@pytest.fixture
def mail_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def overrides(mail_port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_port,
        "smtp_starttls": False,
        "smtp_from": "kerralla@kuusilahti.example",
        "allow_loopback_calendars": True,
        "calendar_timeout_seconds": 0.5,
    }


async def cast(bot: BotHarness) -> None:
    """The convening test's people, with Telegram profiles, addresses and a private feed."""
    await people(bot)
    closed = free_port()  # nothing listens there: the feed cannot be read
    feed = f"http://127.0.0.1:{closed}/calendar/ical/{FEED_OWNER}%40kunta.example/{FEED_SECRET}"
    async with bot.services.sessions() as session, session.begin():
        rows = (await session.scalars(select(Professional))).all()
        by_user = {p.telegram_user_id: p for p in rows}
        by_user[TEACHER].email = TEACHER_EMAIL
        by_user[NURSE].email = REFUSED  # the SMTP server answers 550
        by_user[SOCIAL].calendar_feed_url = f"{feed}/basic.ics"
    for uid, (first, last, username) in PROFILES.items():
        bot.api.user(
            uid,
            first_name=first,
            last_name=last,
            username=username,
            language_code=LOCALES.get(uid, "fi"),
        )


async def newcomer_joins(bot: BotHarness) -> str:
    """A professional opens the one-time link an administrator made; returns the link's token."""
    async with bot.services.sessions() as session, session.begin():
        await f.organisation(session, slug="kuusilahti-neuvola", name="Kuusilahden neuvola")
        invitation = await invite_professional(
            session,
            organisation="kuusilahti-neuvola",
            sector="health",
            title="terveydenhoitaja",
            email=None,
            name=None,
            now=utcnow(),
        )
    bot.api.send_text(NEWCOMER, f"/start {invitation.token}")
    await bot.api.wait_for_message(NEWCOMER, "Tervetuloa Kerrallaan, Niilo Uusitalo!")
    return invitation.token


async def convene(bot: BotHarness) -> tuple[str, str]:
    """Through /uusi, with bad input on the way; the guardian's links (Telegram, web)."""
    api = bot.api
    kinds = await reply(api, CONVENER, "/uusi", "Millaisen tapaamisen kutsut koolle?")
    roles = await choose(api, CONVENER, kinds, "Perhekeskustiimi", "Mikä on oma roolisi")
    await choose(
        api, CONVENER, roles, "perhekeskuksen työntekijä", "Anna tapaamiselle asiatunniste"
    )
    await reply(api, CONVENER, f"Lapsi {IDENTITY_CODE}", "näyttää henkilötunnukselta")
    lengths = await reply(api, CONVENER, CASE_LABEL, "Kuinka kauan tapaaminen kestää?")
    await choose(api, CONVENER, lengths, "1 t 30 min", "Missä tapaatte?")
    windows = await reply(api, CONVENER, PLACE, "Milloin tapaaminen")
    deadlines = await choose(api, CONVENER, windows, "Seuraavat 2 viikkoa", "Mihin mennessä")
    circle = await choose(api, CONVENER, deadlines, "3 päivän kuluessa", "osallistujat:")
    circle = await add_from_directory(
        api, circle, "koulu", None, "Olli Opettaja, luokanopettaja", "opettaja"
    )
    circle = await add_from_directory(
        api, circle, None, "terv", "Terhi Terveys, terveydenhoitaja", "terveydenhoitaja"
    )
    circle = await add_from_directory(
        api, circle, None, "sanna", "Sanna Sosiaali, sosiaalityöntekijä", "sosiaalityöntekijä"
    )
    early = await tap(api, CONVENER, circle, "Valmis: ehdota aikoja")
    assert "pakolliset roolit: huoltaja" in (await callback_answer(api, early))["text"]
    links = await choose(api, CONVENER, circle, "Kutsulinkki rooliin", "Missä roolissa?")
    circle = await choose(api, CONVENER, links, "huoltaja *", "linkki, jolla huoltaja pääsee")
    seat = re.search(r"\?start=([A-Za-z0-9_-]+)", circle["text"])
    page = re.search(r"/f/([A-Za-z0-9_-]+)\n", circle["text"])
    assert seat and page, circle["text"]
    times = await choose(api, CONVENER, circle, "Valmis: ehdota aikoja", "Ehdotetut ajat.")
    # The private feed was tried (and could not be read).
    assert "Henkilön Sanna Sosiaali kalenteriin ei saatu yhteyttä" in times["text"]
    await reply(api, CONVENER, "huomenna klo 25", "En saanut selvää ajasta")
    await choose(api, CONVENER, times, "Lähetä osallistujille", "Lähetetty.")
    return seat.group(1), page.group(1)


async def answer_every_time(
    bot: BotHarness, uid: int, message: dict[str, Any], choice: str
) -> None:
    api = bot.api
    keys = [k for row in message["reply_markup"]["inline_keyboard"] for k in row]
    offered = [k for k in keys if k["text"].endswith(choice)]
    for key in offered:
        api.press(uid, message["message_id"], key["callback_data"])

    def marked() -> int:
        now = next(m for m in api.messages(uid) if m["message_id"] == message["message_id"])
        rows = now["reply_markup"]["inline_keyboard"]
        return sum(k["text"].startswith("● ") for row in rows for k in row)

    await api.wait_for(lambda: marked() == len(offered))


async def everyone_answers(bot: BotHarness, seat_token: str) -> None:
    api = bot.api
    api.send_text(GUARDIAN, f"/start {seat_token}")
    await api.wait_for_message(GUARDIAN, "Du är nu med i ett möte som Kaisa Koivu har kallat till.")
    invited = {
        uid: await api.wait_for_message(
            uid, "bjuder in dig" if LOCALES[uid] == "sv" else "kutsuu sinut"
        )
        for uid in (TEACHER, NURSE, SOCIAL, GUARDIAN)
    }
    await asyncio.gather(
        answer_every_time(bot, TEACHER, invited[TEACHER], "Sopii"),
        answer_every_time(bot, NURSE, invited[NURSE], "Ehkä"),
        answer_every_time(bot, SOCIAL, invited[SOCIAL], "Ei sovi"),
        answer_every_time(bot, GUARDIAN, invited[GUARDIAN], "Passar"),
    )


async def fix(bot: BotHarness, inbox: Inbox) -> None:
    """The convener fixes the recommended time; a file and an email go out, one address is
    refused (550) and the convener is told."""
    api = bot.api
    offer = await api.wait_for_message(CONVENER, "Kaikki, joiden pitää vastata, ovat vastanneet")
    fixed = await tap(api, CONVENER, offer, button_label(offer))
    assert (await callback_answer(api, fixed))["text"].startswith("Sovittu: ")
    told = await api.wait_for_message(GUARDIAN, "Tiden är bestämd: Möte")
    assert f"Plats: {PLACE}" in told["text"]
    await api.wait_for(lambda: inbox.to(TEACHER_EMAIL))
    await api.wait_for_message(CONVENER, "ei voitu lähettää sähköpostilla")


async def stranger_hits_errors(bot: BotHarness, meeting_id: int) -> None:
    """A handler fails (the Bot API answers 500), then a forged button is pressed."""
    api = bot.api

    def fail_once(method: str, params: dict[str, Any]) -> str | None:
        if method != "sendMessage" or params.get("chat_id") != STRANGER:
            return None
        return None if any(p.get("chat_id") == STRANGER for _, p, _ in api.faulted) else "500"

    api.faults = fail_once
    api.send_text(STRANGER, STRANGER_TEXT)
    sorry = await api.wait_for_message(STRANGER, "Jokin meni pieleen")
    api.faults = None
    forged = api.press(STRANGER, sorry["message_id"], f"card:{meeting_id}", check=False)
    assert (await callback_answer(api, forged))["text"] == "Tämä painike ei ole sinua varten."


async def ask_for_a_feed(bot: BotHarness) -> str:
    """The teacher asks for a personal calendar feed; its path on the web server."""
    api = bot.api
    latest = max(m["message_id"] for m in api.messages(TEACHER))
    api.send_text(TEACHER, "/tapaamiset")
    listing = await api.wait_for_message(TEACHER, "Tapaamisesi:", after=latest)
    api.press(TEACHER, listing["message_id"], button(listing, "Osoite kalenterisovellukseeni"))
    told = await api.wait_for_message(TEACHER, "tilattuna kalenterina", after=latest)
    feed = re.search(r"/ics/[A-Za-z0-9_-]+\.ics", told["text"])
    assert feed, told["text"]
    return feed.group()


async def on_the_web(bot: BotHarness, feed: str, family: str) -> None:
    """The production web server (as `kerralla run` starts it): the feed is read, and the family
    answers the questions on their page (a forged form on the way)."""
    port = free_port()
    settings = bot.services.settings.model_copy(update={"web_port": port})
    runner = await start_web(dataclasses.replace(bot.services, settings=settings))
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:

            async def post(path: str, status: int, **form: str | list[str]) -> None:
                data = [
                    (k, v)
                    for k, values in form.items()
                    for v in ([values] if isinstance(values, str) else values)
                ]
                async with client.post(path, data=data, allow_redirects=False) as response:
                    assert response.status == status, (path, await response.text())

            async with client.get(feed) as response:
                assert response.status == 200
                assert b"BEGIN:VCALENDAR" in await response.read()
            async with client.get("/ics/" + "x" * 32 + ".ics") as response:
                assert response.status == 404
            async with client.get(f"/f/{family}") as response:
                assert response.status == 200
            async with client.get(f"/f/{family}/consent") as response:
                page = await response.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            readers = re.findall(r'name="reader" value="(\d+)"', page)
            assert readers, page
            await post(f"/f/{family}/consent", 403, csrf="forged", reader=readers)
            await post(f"/f/{family}/consent", 303, csrf=csrf, reader=readers)
            await post(f"/f/{family}/q/1", 303, csrf=csrf, answer=FAMILY_ANSWER, action="next")
            await post(f"/f/{family}/q/2", 204, csrf=csrf, answer=FAMILY_WORRY, action="autosave")
            await post(f"/f/{family}/review", 303, csrf=csrf)
            async with client.get(f"/f/{family}/review") as response:
                assert FAMILY_ANSWER in await response.text()
    finally:
        await runner.cleanup()


async def move_then_cancel(bot: BotHarness, inbox: Inbox) -> None:
    api = bot.api
    card = await open_card(bot, CONVENER, "Tapaamisesi:", "(aika sovittu)")
    api.press(CONVENER, card["message_id"], button(card, "Siirrä"))
    how = await api.wait_for_message(CONVENER, "Siirretäänkö suoraan uuteen aikaan")
    api.press(CONVENER, how["message_id"], button(how, "Suoraan uuteen aikaan"))
    asked = await api.wait_for_message(CONVENER, "Kirjoita uusi aika näin")
    api.send_text(CONVENER, "huomenna klo 13.15")
    await api.wait_for_message(CONVENER, "Siirretty aikaan", after=asked["message_id"])
    await api.wait_for(lambda: len(inbox.to(TEACHER_EMAIL)) == 2)

    card = await open_card(bot, CONVENER, "Tapaamisesi:", "(aika sovittu)")
    api.press(CONVENER, card["message_id"], button(card, "Peru tapaaminen"))
    await api.wait_for_message(CONVENER, "Miksi tapaaminen perutaan?")
    api.send_text(CONVENER, CANCEL_REASON)
    await api.wait_for_message(CONVENER, "Tapaaminen on peruttu, ja kaikille on kerrottu.")
    told = await api.wait_for_message(TEACHER, "Tapaaminen on peruttu")
    assert CANCEL_REASON in told["text"]
    await api.wait_for(lambda: len(inbox.to(TEACHER_EMAIL)) == 3)


async def outbox_settled(bot: BotHarness, timeout: float = 10) -> None:
    """Wait until nothing due is left to send (so every delivery ran while captured)."""
    deadline = time.monotonic() + timeout
    while True:
        async with bot.services.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
                    OutboxMessage.next_attempt_at <= utcnow(),
                )
            )
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} outbox messages still waiting"
        await asyncio.sleep(0.1)


# -- the test --------------------------------------------------------------------------------


async def test_a_whole_scenario_at_debug_logs_no_personal_data(
    database_url: str, mail_server: tuple[Inbox, int], capfd: pytest.CaptureFixture[str]
) -> None:
    inbox, mail_port = mail_server
    settings = settings_for_test(database_url, "http://127.0.0.1:9", **overrides(mail_port))
    secret_values = secrets(settings)
    with production_logging(secret_values) as capture:
        # The capture itself: a debug record arrives with its exception (as a traceback, or as
        # its kind and place: however production writes it), and the floors `configure` gives
        # the libraries hold (below httpx's level nothing arrives, as in production).
        try:
            raise LookupError("the exception's own words")
        except LookupError:
            logging.getLogger("kerralla.test").debug(CANARY, exc_info=True)
        httpx = logging.getLogger("httpx")
        httpx.log(httpx.getEffectiveLevel() - 1, FLOORED)
        await prepare_database(settings)  # what `kerralla run` does first (Alembic, defaults)
        async with running_bot(database_url, **overrides(mail_port)) as bot:
            assert secrets(bot.services.settings) == secret_values
            api = bot.api
            await cast(bot)
            links = {await newcomer_joins(bot)}
            seat, family = await convene(bot)
            await everyone_answers(bot, seat)
            await on_the_web(bot, await ask_for_a_feed(bot), family)
            await fix(bot, inbox)
            async with bot.services.sessions() as session:
                meeting = await session.scalar(select(Meeting))
            await stranger_hits_errors(bot, meeting.id)
            # The timed jobs due half an hour before the meeting: reminders, the summary.
            later = meeting.starts_at - timedelta(minutes=30)
            bot.clock.set(later)  # the bot's one clock: workers, handlers, pages
            worker = JobWorker(
                bot.services.sessions,
                bot.services.settings,
                clock=bot.services.now,
                after_batch=bot.services.outbox_wake.set,
            )
            assert await worker.run_once() > 0
            await move_then_cancel(bot, inbox)
            await outbox_settled(bot)
            links |= issued_links(api)
    out, err = capfd.readouterr()
    written = out + err

    canary = [e.text for e in capture.entries if CANARY in e.text]
    assert canary and "LookupError" in canary[0] and CANARY in written, canary
    assert FLOORED not in written and not any(FLOORED in e.text for e in capture.entries)
    # The scenario did go through the paths that log, and the values were in play.
    assert capture.entries, "nothing was logged at DEBUG"
    names = {e.logger.split(".")[0] for e in capture.entries}
    assert {"alembic", "bot", "scheduling", "telegram"} <= names, names
    assert any(e.logger == "bot.app" and "failed" in e.text for e in capture.entries)
    sent = repr(api.calls)  # what the bot sent: the values were in play
    for value in [CASE_LABEL, PLACE, CANCEL_REASON, "Olli Opettaja"]:
        assert value in sent, value
    assert {seat, family} <= links and len(links) >= 4, links  # and a feed, and more

    found = leaks(capture, written, forbidden_values(secret_values, links))
    assert not found, "personal data or secrets in the logs:\n" + "\n".join(found)
