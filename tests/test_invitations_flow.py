"""Calendars follow the meeting: fixed → moved → cancelled arrives as files in the chat and as
iMIP emails at a real SMTP server (aiosmtpd), each in its recipient's language and with the
minimum; a refused address is reported to the convener; a personal feed shows the meetings."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC
from email.message import EmailMessage

import icalendar
import pytest
import vobject
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select

from bot.web.app import build_web_app
from scheduling import meetings
from scheduling.models import Meeting, Professional, utcnow

from .calendar_servers import free_port
from .factories import guardian_seat
from .harness import BotHarness, button, running_bot
from .test_managing import CONVENER, PRINCIPAL, TEACHER, fix_anyway, open_card, sisukas

REFUSED = "rehtori@kuusilahti.example"


class Inbox:
    """An SMTP server's handler that keeps every message and refuses one address with 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(
        self, server: object, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if rcpts == [address]]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def bot(database_url: str, smtp: tuple[Inbox, int]) -> AsyncIterator[BotHarness]:
    async with running_bot(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_starttls=False,
        smtp_from="kerralla@kuusilahti.example",
        smtp_reply_to="palvelu@kuusilahti.example",
        public_base_url="https://kerralla.kuusilahti.example",
    ) as harness:
        yield harness


async def give_emails(bot: BotHarness) -> None:
    async with bot.services.sessions() as session, session.begin():
        for uid, address in [(TEACHER, "olli@kuusilahti.example"), (PRINCIPAL, REFUSED)]:
            professional = await session.scalar(
                select(Professional).where(Professional.telegram_user_id == uid)
            )
            professional.email = address


def parts(message: EmailMessage) -> tuple[str, list[str], bytes, bytes]:
    """(content type tree, the alternative's types, the inline calendar, the attachment)."""
    alternative, attachment = message.get_payload()
    kinds = [p.get_content_type() for p in alternative.get_payload()]
    inline = alternative.get_payload()[2]
    return (
        f"{message.get_content_type()}>{alternative.get_content_type()}",
        kinds,
        inline.get_payload(decode=True),
        attachment.get_payload(decode=True),
    )


async def test_fix_move_cancel_reach_chats_and_mailboxes(
    bot: BotHarness, smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    api = bot.api
    meeting_id = await sisukas(bot)
    await give_emails(bot)
    await api.wait_for_message(PRINCIPAL, "kutsuu sinut")

    # Fixed: everyone gets a file in the chat; those with an address get an email.
    card = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    # Nobody has answered, so the convener is asked once more and confirms.
    await fix_anyway(
        bot,
        CONVENER,
        card,
        card["reply_markup"]["inline_keyboard"][1][0]["callback_data"],
        "Lärare: har inte svarat",
        "Bekräfta ändå",
    )
    await api.wait_for(lambda: all(api.documents(uid) for uid in (CONVENER, TEACHER, PRINCIPAL)))
    async with bot.services.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    teacher_file = api.documents(TEACHER)[0]
    assert teacher_file["file_name"] == "kerralla.ics"
    request = icalendar.Calendar.from_ical(teacher_file["data"])
    event = request.walk("VEVENT")[0]
    assert request["METHOD"] == "REQUEST" and str(event["SUMMARY"]) == "Tapaaminen"
    assert str(event["UID"]) == meeting.ical_uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART").astimezone(UTC) == meeting.starts_at
    # Only the recipient is an attendee in their copy.
    assert not isinstance(event["ATTENDEE"], list)
    assert str(event["ATTENDEE"]) == "mailto:olli@kuusilahti.example"
    # The Swedish convener has no address: a PUBLISH to tap into the phone's calendar.
    convener_file = icalendar.Calendar.from_ical(api.documents(CONVENER)[0]["data"])
    assert convener_file["METHOD"] == "PUBLISH"
    assert str(convener_file.walk("VEVENT")[0]["SUMMARY"]) == "Möte"
    for uid in (CONVENER, TEACHER, PRINCIPAL):
        data = api.documents(uid)[0]["data"]
        assert b"SS-7" not in data and b"Sisukas" not in data  # no case label, no type

    await api.wait_for(lambda: inbox.to("olli@kuusilahti.example"))
    invitation = inbox.to("olli@kuusilahti.example")[0]
    tree, kinds, inline, attached = parts(invitation)
    assert tree == "multipart/mixed>multipart/alternative"
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    assert (
        invitation.get_payload()[0]
        .get_payload()[2]["Content-Type"]
        .replace('"', "")
        .find("method=REQUEST")
        > 0
    )
    assert inline == attached and b"\r\nMETHOD:REQUEST\r\n" in inline
    assert str(invitation["Subject"]).startswith("Kutsu: Tapaaminen, ")
    assert invitation["From"].addresses[0].addr_spec == "kerralla@kuusilahti.example"
    assert invitation["Reply-To"].addresses[0].addr_spec == "palvelu@kuusilahti.example"
    assert "SS-7" not in invitation.as_string() and "Sisukas" not in invitation.as_string()

    # The refused address is reported to the convener, in Swedish.
    report = await api.wait_for_message(CONVENER, "kunde inte skickas per e-post till Riitta")
    assert "e-postservern avvisade adressen" in report["text"]

    # Moved: an update with the same UID and a higher SEQUENCE, everywhere.
    card = await open_card(bot, CONVENER, "Dina möten:", "(tiden bestämd)")
    api.press(CONVENER, card["message_id"], button(card, "Flytta"))
    how = await api.wait_for_message(CONVENER, "Flytta direkt till en ny tid")
    api.press(CONVENER, how["message_id"], button(how, "Direkt till en ny tid"))
    await api.wait_for_message(CONVENER, "Skriv den nya tiden så här")
    api.send_text(CONVENER, "i morgon kl. 13.15")
    await api.wait_for(lambda: len(inbox.to("olli@kuusilahti.example")) == 2)
    update = inbox.to("olli@kuusilahti.example")[1]
    assert str(update["Subject"]).startswith("Muutettu: Tapaaminen, ")
    moved = vobject.readOne(parts(update)[2].decode())
    assert moved.vevent.uid.value == meeting.ical_uid and moved.vevent.sequence.value == "1"
    await api.wait_for(lambda: len(api.documents(TEACHER)) == 2)

    # Cancelled: a CANCEL with a still higher SEQUENCE, in the chat and by email.
    card = await open_card(bot, CONVENER, "Dina möten:", "(tiden bestämd)")
    api.press(CONVENER, card["message_id"], button(card, "Ställ in mötet"))
    await api.wait_for_message(CONVENER, "Varför ställs mötet in?")
    api.send_text(CONVENER, "Barnet är sjukt.")
    await api.wait_for(lambda: len(inbox.to("olli@kuusilahti.example")) == 3)
    cancel = inbox.to("olli@kuusilahti.example")[2]
    calendar = icalendar.Calendar.from_ical(parts(cancel)[2])
    event = calendar.walk("VEVENT")[0]
    assert calendar["METHOD"] == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 2 and not event.walk("VALARM")
    assert "text/calendar; method=CANCEL" in cancel.get_payload()[0].get_payload()[2][
        "Content-Type"
    ].replace('"', "")
    await api.wait_for(lambda: len(api.documents(CONVENER)) == 3)
    # Without an address the convener's phone gets the same event marked cancelled.
    last = icalendar.Calendar.from_ical(api.documents(CONVENER)[2]["data"])
    assert last["METHOD"] == "PUBLISH"
    assert str(last.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    assert int(last.walk("VEVENT")[0]["SEQUENCE"]) == 2
    await api.wait_for(lambda: len(api.documents(TEACHER)) == 3)
    assert icalendar.Calendar.from_ical(api.documents(TEACHER)[2]["data"])["METHOD"] == "CANCEL"
    # The refused address was reported once, not at every change.
    reports = [m for m in api.messages(CONVENER) if "kunde inte skickas" in m.get("text", "")]
    assert len(reports) == 1


async def test_a_personal_feed_and_renewing_it(bot: BotHarness) -> None:
    api = bot.api
    await sisukas(bot)
    card = await open_card(bot, CONVENER, "Dina möten:", "(svar samlas in)")
    await fix_anyway(
        bot,
        CONVENER,
        card,
        card["reply_markup"]["inline_keyboard"][1][0]["callback_data"],
        "Lärare: har inte svarat",
        "Bekräfta ändå",
    )
    await api.wait_for(lambda: api.documents(TEACHER))

    async def feed_address(uid: int) -> str:
        latest = max(m["message_id"] for m in api.messages(uid))
        api.send_text(uid, "/tapaamiset")
        listing = await api.wait_for_message(uid, "Tapaamisesi:", after=latest)
        api.press(uid, listing["message_id"], button(listing, "Osoite kalenterisovellukseeni"))
        told = await api.wait_for_message(uid, "tilattuna kalenterina", after=latest)
        return told["text"].rsplit("\n", 1)[1]

    first = await feed_address(TEACHER)
    assert first.startswith("https://kerralla.kuusilahti.example/ics/")
    async with TestClient(TestServer(build_web_app(bot.services))) as client:
        path = first.removeprefix("https://kerralla.kuusilahti.example")
        response = await client.get(path)
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = icalendar.Calendar.from_ical(await response.read())
        assert calendar["METHOD"] == "PUBLISH"
        [event] = calendar.walk("VEVENT")
        assert str(event["SUMMARY"]) == "Tapaaminen" and not event.get("ATTENDEE")
        # A new address stops the old one; unknown addresses look the same.
        second = await feed_address(TEACHER)
        assert second != first
        assert (await client.get(path)).status == 404
        assert (await client.get("/ics/" + "x" * 32 + ".ics")).status == 404
        assert (
            await client.get(second.removeprefix("https://kerralla.kuusilahti.example"))
        ).status == 200


async def test_a_family_members_invitation_leads_to_their_own_page(
    bot: BotHarness, smtp: tuple[Inbox, int]
) -> None:
    """The link in a family member's email, and in its calendar file, is their own page; a
    professional (no page of their own yet) is led to Kerralla's front page."""
    inbox = smtp[0]
    meeting_id = await sisukas(bot)
    await give_emails(bot)
    now = utcnow()
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        opened = await guardian_seat(session, meeting, "sv", now)
        opened.seat.family_member.email = "vardnadshavare@hem.example"
        meeting = await meetings.load(session, meeting_id)
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, bot.services.settings, now, by=meeting.convener, confirmed=True
        )
    await bot.api.wait_for(
        lambda: inbox.to("vardnadshavare@hem.example") and inbox.to("olli@kuusilahti.example")
    )
    message = inbox.to("vardnadshavare@hem.example")[0]
    assert str(message["Subject"]).startswith("Inbjudan: Möte, ")
    text = message.get_payload()[0].get_payload()[0].get_content()
    page = re.search(r"https://kerralla\.kuusilahti\.example/f/[A-Za-z0-9_-]+", text).group(0)
    html = message.get_payload()[0].get_payload()[1].get_content()
    assert f'<a href="{page}">' in html
    event = icalendar.Calendar.from_ical(parts(message)[3]).walk("VEVENT")[0]
    assert str(event["URL"]) == page and page in str(event["DESCRIPTION"])
    # Nothing about the family or the matter: the minimum, and the way back to their page.
    for words in ("SS-7", "Sisukas", "vårdnadshavare", "huoltaja"):
        assert words not in message.as_string().replace("vardnadshavare@hem.example", "")

    # The link opens the guardian's own page, in their language.
    async with TestClient(TestServer(build_web_app(bot.services))) as client:
        opened_page = await client.get(page.removeprefix("https://kerralla.kuusilahti.example"))
        assert opened_page.status == 200
        assert "<h1>Möte</h1>" in await opened_page.text()

    # The teacher has no page of their own yet: their link is Kerralla's front page.
    teacher = inbox.to("olli@kuusilahti.example")[0]
    event = icalendar.Calendar.from_ical(parts(teacher)[3]).walk("VEVENT")[0]
    assert str(event["URL"]) == "https://kerralla.kuusilahti.example"
    assert "/f/" not in teacher.as_string()
