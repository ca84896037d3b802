"""Invitation emails (iMIP, RFC 6047) and sending them over SMTP.

`invitation_email()` builds one message for one recipient, the way every client finds the
invitation (see `calendar-invitations.md`):

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8
    │   ├── text/html; charset=utf-8
    │   └── text/calendar; method=REQUEST; charset=UTF-8   (the METHOD inside the calendar)
    └── application/ics; name="invite.ics"                   (attachment)

The calendar goes in both places as base64 of the exact bytes given, so its CRLF line ends
survive (Python's default policy would rewrite a text part's CRLF to LF). The message is
serialised with `email.policy.SMTP`: CRLF lines, headers encoded (RFC 2047), 7-bit clean.

`send()` hands a message to an SMTP server with aiosmtplib and says whether a failure is worth
retrying (`TemporaryMailError`) or not (`PermanentMailError`).
"""

from __future__ import annotations

import email.policy
import html as html_module
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, cast

import aiosmtplib

# The METHOD inside the calendar, repeated on its MIME part.
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]

METHODS = ("REQUEST", "CANCEL", "PUBLISH")
ATTACHMENT_NAME = "invite.ics"

_EMAIL = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@([^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+)$")
_METHOD_LINE = re.compile(rb"(?:^|\r\n)METHOD:([A-Za-z-]+)\r\n")
_LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


# -- building -------------------------------------------------------------------------------------


def invitation_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    calendar: bytes,
    method: Method | None = None,
    html: str | None = None,
    reply_to: str | None = None,
    sender_name: str | None = None,
    language: str | None = None,
    message_id: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """One iMIP email to one recipient, as bytes ready for `send()`.

    `sender` is the organiser's address (From, and the calendar's ORGANIZER); it must differ
    from `to`. `method` defaults to the calendar's own METHOD and must equal it. `html` defaults
    to `text_to_html(text)`. `message_id` (e.g. stable per outbox row, `<outbox-12@host>`)
    defaults to a fresh one; `now` is the Date header (default: the current time).
    """
    _check_address(sender, "sender")
    _check_address(to, "recipient")
    if reply_to is not None:
        _check_address(reply_to, "reply_to")
    if sender.casefold() == to.casefold():
        # Gmail shows no "add to calendar" when the organiser is the recipient.
        raise ValueError("the sender (organiser) and the recipient must be different addresses")
    if not isinstance(calendar, bytes):
        raise ValueError("the calendar must be bytes, exactly as invites.py made it")
    inside = calendar_method(calendar)
    if method is None:
        method = cast(Method, inside)
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if method != inside:
        raise ValueError(f"method {method} differs from the calendar's METHOD:{inside}")
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError("now must be an aware datetime")

    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = Address(display_name=sender_name or "", addr_spec=sender)
    message["To"] = Address(addr_spec=to)
    if reply_to is not None:
        message["Reply-To"] = Address(addr_spec=reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    message["MIME-Version"] = "1.0"

    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(
        html if html is not None else text_to_html(text, language=language),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    message.add_alternative(calendar, maintype="text", subtype="calendar", cte="base64")
    message.add_attachment(
        calendar,
        maintype="application",
        subtype="ics",
        cte="base64",
        filename=ATTACHMENT_NAME,
        params={"name": ATTACHMENT_NAME},
    )
    for part in message.iter_parts():
        _tidy(part, method)
    if language:  # after the parts: building them moves Content-* headers down into them
        message["Content-Language"] = language
    return message.as_bytes(policy=email.policy.SMTP)


def _tidy(part: EmailMessage, method: str) -> None:
    """Parts made by `add_alternative` carry a MIME-Version of their own: only the top may.
    The calendar part's Content-Type is written as Outlook and Google write it, unquoted."""
    del part["MIME-Version"]
    if part.get_content_type() == "text/calendar":
        del part["Content-Type"]
        part.set_raw("Content-Type", f"text/calendar; method={method}; charset=UTF-8")
    if part.is_multipart():
        for child in part.iter_parts():
            _tidy(child, method)


def calendar_method(calendar: bytes) -> str:
    """The METHOD of an iCalendar object (its top-level METHOD line)."""
    found = {match.upper() for match in _METHOD_LINE.findall(calendar)}
    if len(found) != 1:
        raise ValueError("the calendar must have exactly one METHOD")
    return found.pop().decode("ascii")


def text_to_html(text: str, *, language: str | None = None) -> str:
    """A minimal HTML twin of a plain text: escaped, paragraphs at blank lines, line breaks
    kept, web links clickable; no styles, images or anything fetched from elsewhere."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p]
    body = "\n".join(f"<p>{_html_lines(paragraph)}</p>" for paragraph in paragraphs)
    lang = f' lang="{html_module.escape(language)}"' if language else ""
    return (
        f'<!DOCTYPE html>\n<html{lang}>\n<head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _html_lines(paragraph: str) -> str:
    lines = []
    for line in paragraph.split("\n"):
        parts, last = [], 0
        for match in _LINK.finditer(line):
            parts.append(html_module.escape(line[last : match.start()]))
            url = html_module.escape(match.group(0))
            parts.append(f'<a href="{url}">{url}</a>')
            last = match.end()
        parts.append(html_module.escape(line[last:]))
        lines.append("".join(parts))
    return "<br>\n".join(lines)


def _check_address(value: str, what: str) -> None:
    """A bare ASCII address (no name, no SMTPUTF8), without anything that could end a line."""
    if (
        not isinstance(value, str)
        or not value.isascii()
        or not value.isprintable()
        or not _EMAIL.match(value)
    ):
        raise ValueError(f"{what} {value!r} is not a plain email address")


# -- sending --------------------------------------------------------------------------------------


class MailError(Exception):
    """Sending failed. `permanent`: retrying the same message will not help.

    `code` is the SMTP reply code when there was one; `refused` the recipients the server
    refused; `accepted` those it took anyway (when only some were refused).
    """

    permanent = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        refused: Sequence[str] = (),
        accepted: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.refused = tuple(refused)
        self.accepted = tuple(accepted)


class PermanentMailError(MailError):
    """The server refused the recipient or the message for good (5xx): report, don't retry."""

    permanent = True


class TemporaryMailError(MailError):
    """Worth retrying later: 4xx, no connection, a timeout, or the server setup (TLS, login,
    our sender address) that an administrator can fix."""


async def send(
    message: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    host: str,
    port: int,
    user: str | None = None,
    password: str | None = None,
    starttls: bool = True,
    use_tls: bool = False,
    timeout: float = 30.0,
) -> None:
    """Send `message` to `recipients` (envelope; one recipient per message is the rule).

    `starttls` requires STARTTLS (port 587); `use_tls` is TLS from the start (port 465).
    Raises `PermanentMailError` when the server refuses a recipient or the message with a 5xx
    reply, `TemporaryMailError` for everything worth retrying.
    """
    _check_address(sender, "sender")
    recipients = list(recipients)
    if not recipients:
        raise ValueError("no recipients")
    for recipient in recipients:
        _check_address(recipient, "recipient")
    try:
        refused, _ = await aiosmtplib.send(
            message,
            sender=sender,
            recipients=recipients,
            hostname=host,
            port=port,
            username=user or None,
            password=password if user else None,
            use_tls=use_tls,
            start_tls=False if use_tls else starttls,
            timeout=timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = {refusal.recipient: refusal.code for refusal in error.recipients}
        raise _recipients_error(codes, accepted=()) from error
    except aiosmtplib.SMTPRecipientRefused as error:
        raise _recipients_error({error.recipient: error.code}, accepted=()) from error
    except aiosmtplib.SMTPDataError as error:
        kind = PermanentMailError if error.code >= 500 else TemporaryMailError
        raise kind(
            f"the server refused the message: {error.code} {error.message}", code=error.code
        ) from error
    except aiosmtplib.SMTPResponseException as error:
        # Sender refused, login refused, HELO refused: the setup, not this message.
        raise TemporaryMailError(
            f"the server answered {error.code} {error.message}", code=error.code
        ) from error
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise TemporaryMailError(f"could not send: {error}") from error
    if refused:
        codes = {recipient: response.code for recipient, response in refused.items()}
        accepted = [r for r in recipients if r not in codes]
        raise _recipients_error(codes, accepted=accepted)


def _recipients_error(codes: dict[str, int], *, accepted: Sequence[str]) -> MailError:
    permanent = all(code >= 500 for code in codes.values())
    kind = PermanentMailError if permanent else TemporaryMailError
    described = ", ".join(f"{recipient} ({code})" for recipient, code in codes.items())
    worst = max(codes.values()) if permanent else min(codes.values())
    return kind(
        f"the server refused {described}", code=worst, refused=list(codes), accepted=accepted
    )
