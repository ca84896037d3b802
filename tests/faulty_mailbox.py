"""A real SMTP server (aiosmtpd on loopback) that refuses or drops a seeded random fraction of
the deliveries it is offered, and keeps every message it accepted, dropped answer or not.

The faults, one chosen per delivery (per recipient, at RCPT TO):

- "550": the recipient refused for good (`550 5.1.1`); the sender must not try again;
- "451": refused for now (`451 4.3.0`); the sender should try again later;
- "drop": the connection closes when the message is offered, before it is taken;
- "drop_after": the message is taken (kept in `received`), then the connection closes before
  the `250` reaches the sender — which cannot know it arrived.
"""

from __future__ import annotations

import email
import email.policy
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .calendar_servers import free_port

KINDS = ("550", "451", "drop", "drop_after")
REPLIES = {"550": "550 5.1.1 Mailbox unavailable", "451": "451 4.3.0 Try again later"}


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage
    answer_lost: bool  # taken, but the sender never heard so ("drop_after")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class FaultyMailbox:
    """aiosmtpd handler; `fraction` of the deliveries get one of `kinds`, chosen by `seed`."""

    fraction: float = 0.2
    seed: int = 0
    kinds: tuple[str, ...] = KINDS
    received: list[Received] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __enter__(self) -> FaultyMailbox:
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._controller is not None
        self._controller.stop()

    def _fault(self) -> str | None:
        with self._lock:
            if self._random.random() >= self.fraction:
                return None
            fault = self._random.choice(self.kinds)
            self.faults[fault] += 1
            return fault

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        fault = self._fault()
        if fault in REPLIES:
            return REPLIES[fault]
        envelope.rcpt_tos.append(address)
        session.fault = fault  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = getattr(session, "fault", None)
        if fault != "drop":
            content = envelope.original_content or envelope.content
            assert isinstance(content, bytes)
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            with self._lock:
                self.received.append(
                    Received(tuple(envelope.rcpt_tos), message, fault == "drop_after")
                )
        if fault in ("drop", "drop_after") and server.transport is not None:
            server.transport.abort()
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.recipients == (address,)]

    def count(self) -> int:
        with self._lock:
            return len(self.received)
