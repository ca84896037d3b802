"""An SMTP server on loopback (aiosmtpd) that keeps every email it is given as an .eml file."""

from __future__ import annotations

import email
import email.policy
import queue
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass(frozen=True)
class Received:
    """One email as it was accepted: its recipients, the message, and where it was saved."""

    recipients: tuple[str, ...]
    message: EmailMessage
    path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "-", text).strip("-") or "mail"


class Mailbox:
    """Runs the SMTP server in its own thread; `received` is filled as emails arrive."""

    def __init__(self, folder: Path, numbering: Callable[[], int]) -> None:
        self.folder = folder
        self.numbering = numbering  # the next file number, shared with the chat's files
        self.arrived: queue.Queue[Received] = queue.Queue()
        self.count = 0
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        recipients = tuple(str(r) for r in envelope.rcpt_tos)
        local = recipients[0].split("@")[0]
        path = self.folder / f"{self.numbering():02d}-{safe_name(local)}.eml"
        path.write_bytes(envelope.content)
        self.count += 1
        self.arrived.put(Received(recipients, message, path))
        return "250 Message accepted"
