"""Invitation emails over real SMTP: an aiosmtpd server on loopback receives what `send()`
sends; what arrives is parsed as a mail client would and compared byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from scheduling.invites import Attendee, Invitation, cancel, request
from scheduling.mail import (
    MailError,
    PermanentMailError,
    TemporaryMailError,
    calendar_method,
    invitation_email,
    send,
    text_to_html,
)

from .calendar_servers import free_port

SENDER = "kerralla@kerralla.test"
RECIPIENT = "liisa.laine@koulu.test"
REPLY_TO = "maija.virtanen@perhekeskus.test"
SUBJECT = "Kutsu: Tapaaminen ti 16.6. klo 14.00–15.30 – Möte på svenska"
TEXT = (
    "Hei Liisa,\n\n"
    "sinut on kutsuttu tapaamiseen ti 16.6.2026 klo 14.00–15.30.\n"
    'Paikka: Perhekeskus <Kuopio> & "neuvotteluhuone 2"\n\n'
    "Vastaa ja katso tiedot: https://kerralla.test/m/abc?x=1&y=2.\n"
    ".piste rivin alussa\n"
)
DTSTAMP = datetime(2026, 5, 4, 9, 15, tzinfo=UTC)


def invitation(**changes: Any) -> Invitation:
    return Invitation(
        uid="meeting-41f7c2@kerralla.test",
        sequence=changes.pop("sequence", 0),
        starts_at=datetime(2026, 6, 16, 11, tzinfo=UTC),
        ends_at=datetime(2026, 6, 16, 12, 30, tzinfo=UTC),
        time_zone="Europe/Helsinki",
        summary="Tapaaminen",
        description="Kerralla: https://kerralla.test/m/abc\nÄäkköset, puolipiste; 🙂",
        organizer_email=SENDER,
        organizer_name="Virtanen, Maija",
        link="https://kerralla.test/m/abc",
        place="Perhekeskus Kuopio",
        attendee=Attendee(RECIPIENT, "Liisa Laine"),
        **changes,
    )


def message(calendar: bytes | None = None, **changes: Any) -> bytes:
    arguments: dict[str, Any] = {
        "sender": SENDER,
        "sender_name": "Kerralla – Maija Virtanen",
        "reply_to": REPLY_TO,
        "to": RECIPIENT,
        "subject": SUBJECT,
        "text": TEXT,
        "calendar": calendar if calendar is not None else request(invitation(), DTSTAMP),
        "language": "fi",
    }
    arguments.update(changes)
    return invitation_email(**arguments)


# -- an SMTP server on loopback -------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Collector:
    """aiosmtpd handler: keeps what it accepts; refuses what `refuse` / `data_reply` say."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply
    data_reply: str | None = None

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content
        assert isinstance(content, bytes) and envelope.mail_from is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: Collector
    port: int


USERS = {"kerralla": "salasana"}


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and USERS.get(data.login.decode()) == (
        data.password.decode()
    )
    return AuthResult(success=ok, handled=False)  # handled=True would leave the 535 unsaid


@contextlib.contextmanager
def smtp_server(**options: Any) -> Iterator[SmtpServer]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def server(smtp: SmtpServer) -> SmtpServer:
    smtp.handler.received.clear()
    smtp.handler.refuse.clear()
    smtp.handler.data_reply = None
    return smtp


async def deliver(data: bytes, port: int, *recipients: str, **options: Any) -> None:
    arguments: dict[str, Any] = {
        "sender": SENDER,
        "recipients": list(recipients) or [RECIPIENT],
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "timeout": 2.0,
    }
    arguments.update(options)
    await send(data, **arguments)


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def tree(part: EmailMessage) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [tree(child) for child in part.iter_parts()])
    return part.get_content_type()


# -- what arrives ---------------------------------------------------------------------------------


async def test_an_invitation_arrives_as_clients_expect_it(server: SmtpServer) -> None:
    calendar = request(invitation(), DTSTAMP)
    sent = message(calendar)
    await deliver(sent, server.port)

    [received] = server.handler.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [RECIPIENT]
    arrived = parse(received.content)

    assert tree(arrived) == (
        "multipart/mixed",
        [
            ("multipart/alternative", ["text/plain", "text/html", "text/calendar"]),
            "application/ics",
        ],
    )
    alternative, attachment = arrived.iter_parts()
    plain, html, inline = alternative.iter_parts()

    assert inline.get_param("method") == "REQUEST" == calendar_method(calendar)
    assert inline.get_content_charset() == "utf-8"
    assert inline.get_content_disposition() is None
    assert inline.get_payload(decode=True) == calendar
    assert re.search(rb"\r\nContent-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n", sent)

    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_payload(decode=True) == calendar
    assert b"\r\n" in calendar and b"\n" not in calendar.replace(b"\r\n", b"")

    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content_charset() == "utf-8"
    page = html.get_content()
    assert "&lt;Kuopio&gt; &amp; &quot;neuvotteluhuone 2&quot;" in page
    assert '<a href="https://kerralla.test/m/abc?x=1&amp;y=2">' in page
    assert not re.search(r"<(img|script|style|link|iframe|object)\b|\bsrc=|url\(", page, re.I)

    assert arrived["From"].addresses[0].addr_spec == SENDER
    assert arrived["From"].addresses[0].display_name == "Kerralla – Maija Virtanen"
    assert arrived["To"].addresses[0].addr_spec == RECIPIENT
    assert arrived["Reply-To"].addresses[0].addr_spec == REPLY_TO
    assert arrived["Subject"] == SUBJECT
    assert arrived["MIME-Version"] == "1.0"
    assert arrived["Content-Language"] == "fi"
    assert re.fullmatch(r"<[^<>@\s]+@kerralla\.test>", arrived["Message-ID"])
    sent_at = parsedate_to_datetime(arrived["Date"])
    assert abs((sent_at - datetime.now(UTC)).total_seconds()) < 60
    # 7-bit clean headers and body, CRLF lines no longer than SMTP allows.
    assert sent.isascii()
    assert all(len(line) <= 998 for line in sent.split(b"\r\n"))
    assert b"\n" not in sent.replace(b"\r\n", b"")
    assert len(arrived.get_all("MIME-Version")) == 1
    assert all(part["MIME-Version"] is None for part in arrived.walk() if part is not arrived)


async def test_a_cancellation_says_cancel_outside_and_inside(server: SmtpServer) -> None:
    calendar = cancel(invitation(sequence=1), DTSTAMP)
    await deliver(message(calendar, method="CANCEL"), server.port)
    [received] = server.handler.received
    alternative, attachment = parse(received.content).iter_parts()
    inline = list(alternative.iter_parts())[2]
    assert inline.get_param("method") == "CANCEL"
    assert inline.get_payload(decode=True) == calendar == attachment.get_payload(decode=True)
    assert b"\r\nMETHOD:CANCEL\r\n" in calendar


def test_given_identifiers_and_html_are_used() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    sent = message(
        message_id="<outbox-12@kerralla.test>",
        now=now,
        html="<p>Oma</p>",
        reply_to=None,
        sender_name=None,
        language=None,
    )
    parsed = parse(sent)
    assert parsed["Message-ID"] == "<outbox-12@kerralla.test>"
    assert parsedate_to_datetime(parsed["Date"]) == now
    assert parsed["Reply-To"] is None
    assert parsed["From"] == SENDER
    html = list(next(parsed.iter_parts()).iter_parts())[1]
    assert html.get_content() == "<p>Oma</p>\r\n"


def test_the_html_twin_is_escaped_and_self_contained() -> None:
    page = text_to_html("A <b>&\"'\n\nhttps://x.test/a?b=<c>&d=1.", language="sv")
    assert '<html lang="sv">' in page
    assert "<p>A &lt;b&gt;&amp;&quot;&#x27;</p>" in page
    assert '<a href="https://x.test/a?b=">https://x.test/a?b=</a>&lt;c&gt;&amp;d=1.' in page


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"to": SENDER}, "different"),
        ({"to": SENDER.upper()}, "different"),
        ({"method": "CANCEL"}, "differs"),
        ({"method": "REPLY"}, "not one of"),
        ({"calendar": b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}, "METHOD"),
        ({"to": "Liisa <liisa@koulu.test>"}, "plain email"),
        ({"to": "liisa@koulu.test\r\nBcc: evil@x.test"}, "plain email"),
        ({"reply_to": "maija@x.test\nBcc: evil@x.test"}, "plain email"),
        ({"subject": "Kutsu\r\nBcc: evil@x.test"}, "linefeed"),
        ({"now": datetime(2026, 6, 1, 12)}, "aware"),
    ],
)
def test_what_would_go_wrong_is_refused(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        message(**changes)


# -- what goes wrong when sending -----------------------------------------------------------------


async def test_a_refused_recipient_is_a_permanent_error(server: SmtpServer) -> None:
    server.handler.refuse[RECIPIENT] = "550 5.1.1 No such user"
    with pytest.raises(PermanentMailError) as caught:
        await deliver(message(), server.port)
    error = caught.value
    assert error.permanent and isinstance(error, MailError)
    assert (error.code, error.refused, error.accepted) == (550, (RECIPIENT,), ())
    assert server.handler.received == []


async def test_a_recipient_refused_for_now_is_a_temporary_error(server: SmtpServer) -> None:
    server.handler.refuse[RECIPIENT] = "451 4.7.1 Greylisted, try again later"
    with pytest.raises(TemporaryMailError) as caught:
        await deliver(message(), server.port)
    assert not caught.value.permanent
    assert (caught.value.code, caught.value.refused) == (451, (RECIPIENT,))


@pytest.mark.parametrize(
    "reply, kind",
    [("451 4.3.0 Try again later", TemporaryMailError), ("554 5.7.1 Rejected", PermanentMailError)],
)
async def test_a_refused_message_is_classified_by_its_code(
    server: SmtpServer, reply: str, kind: type[MailError]
) -> None:
    server.handler.data_reply = reply
    with pytest.raises(kind) as caught:
        await deliver(message(), server.port)
    assert caught.value.code == int(reply[:3])


async def test_some_recipients_refused_says_who_got_it(server: SmtpServer) -> None:
    other = "pekka@perhekeskus.test"
    server.handler.refuse[RECIPIENT] = "550 5.1.1 No such user"
    with pytest.raises(PermanentMailError) as caught:
        await deliver(message(), server.port, RECIPIENT, other)
    assert (caught.value.refused, caught.value.accepted) == ((RECIPIENT,), (other,))
    assert [r.rcpt_tos for r in server.handler.received] == [[other]]


async def test_nobody_listening_is_a_temporary_error() -> None:
    began = time.monotonic()
    with pytest.raises(TemporaryMailError):
        await deliver(message(), free_port())
    assert time.monotonic() - began < 2


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word."""

    async def keep_quiet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    listener = await asyncio.start_server(keep_quiet, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_server_that_does_not_answer_times_out_as_temporary() -> None:
    async with silent_server() as port:
        began = time.monotonic()
        with pytest.raises(TemporaryMailError):
            await deliver(message(), port, timeout=0.3)
        assert time.monotonic() - began < 1.5


async def test_starttls_required_but_not_offered_is_temporary(server: SmtpServer) -> None:
    with pytest.raises(TemporaryMailError, match="STARTTLS"):
        await deliver(message(), server.port, starttls=True)
    assert server.handler.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_login_with_the_right_and_a_wrong_password() -> None:
    with smtp_server(
        authenticator=authenticate, auth_require_tls=False, auth_required=True
    ) as server:
        await deliver(message(), server.port, user="kerralla", password="salasana")
        assert len(server.handler.received) == 1
        with pytest.raises(TemporaryMailError) as caught:
            await deliver(message(), server.port, user="kerralla", password="väärä")
        assert caught.value.code == 535
        with pytest.raises(TemporaryMailError):
            await deliver(message(), server.port)  # no login where one is required
        assert len(server.handler.received) == 1
