"""Sends the outbox's emails: each participant's calendar invitation (iMIP) in their language.

One message per recipient, built when it is sent from the meeting as it is then. A refusal
the mail server will repeat (5xx) fails the row and tells the convener in the chat; anything
else (4xx, no connection, a timeout) is tried again with backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import meetings, outbox
from .calendar_files import CalendarFile, for_participant
from .config import Settings
from .db import READ_ONLY, transaction
from .i18n import Translator, translator
from .mail import PermanentMailError, TemporaryMailError, invitation_email, send
from .models import Channel, Meeting, OutboxMessage, OutboxState, Professional, TelegramUser
from .outbox import OutboxWorker, Outcome


def subject(t: Translator, meeting: Meeting, file: CalendarFile, settings: Settings) -> str:
    title = settings.invitation_title or t.gettext("Meeting")
    assert meeting.starts_at is not None
    when = t.datetime(meeting.starts_at)
    if file.method == "CANCEL":
        return t.gettext("Cancelled: {title}, {when}", title=title, when=when)
    if meeting.ical_sequence > 0:
        return t.gettext("Changed: {title}, {when}", title=title, when=when)
    return t.gettext("Invitation: {title}, {when}", title=title, when=when)


def body(
    t: Translator,
    meeting: Meeting,
    file: CalendarFile,
    settings: Settings,
    link: str | None = None,
) -> str:
    """The email's words: the time, the place and a link back — the recipient's own page if
    they have one — and nothing about the family."""
    assert meeting.starts_at is not None and meeting.ends_at is not None
    lines = [
        t.gettext("The meeting has been cancelled.")
        if file.method == "CANCEL"
        else t.gettext("You are invited to a meeting."),
        t.time_range(meeting.starts_at, meeting.ends_at, year=True),
    ]
    if meeting.place:
        lines.append(t.gettext("Place: {place}", place=meeting.place))
    if meeting.online_url:
        lines.append(t.gettext("Online: {link}", link=meeting.online_url))
    lines += [
        "",
        t.gettext(
            "The calendar invitation is attached. The time and any changes are kept up to "
            "date in Kerralla: {link}",
            link=link or settings.base_url,
        ),
    ]
    return "\n".join(lines)


class MailDelivery(OutboxWorker):
    channel = Channel.EMAIL
    worker_name = "email"

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, **options: object
    ) -> None:
        options.setdefault("lease", timedelta(seconds=settings.outbox_lease_seconds))
        options.setdefault("first_retry", timedelta(seconds=settings.outbox_retry_seconds))
        super().__init__(sessions, **options)  # type: ignore[arg-type]
        self.settings = settings

    async def deliver(self, row_id: int) -> Outcome:
        now = self.clock()
        async with self.sessions() as session:
            await session.connection(execution_options=READ_ONLY)
            built = await self.build(session, row_id, now, writable=False)
        if built is None:  # a family member's own page goes in: its link is a new secret
            async with transaction(self.sessions) as session:
                built = await self.build(session, row_id, now, writable=True)
        if isinstance(built, Outcome):
            return built
        return await self.hand_over(*built)

    async def build(
        self, session: AsyncSession, row_id: int, now: datetime, *, writable: bool
    ) -> tuple[bytes, str] | Outcome | None:
        """The email for one outbox row; None when it needs a family page link and the
        session is not `writable` to issue one."""
        settings = self.settings
        row = await session.get(OutboxMessage, row_id)
        assert row is not None and row.email_to is not None
        if row.kind != "calendar_email":
            return Outcome.refused(f"no email for {row.kind!r}")
        meeting = await meetings.load(session, row.meeting_id or 0)
        seat = (
            next(
                (p for p in meeting.participants if p.id == row.payload.get("participant_id")),
                None,
            )
            if meeting
            else None
        )
        if meeting is None or seat is None or meeting.starts_at is None:
            return Outcome.nothing_to_say()
        link = None
        if seat.family_member is not None:
            if not writable:
                return None
            token = await meetings.family_page(session, meeting, seat, now)
            link = f"{settings.base_url}/f/{token}"
        t = translator(row.locale, settings.timezone)
        file = for_participant(meeting, seat, t, settings, now, link)
        if file is None:
            return Outcome.nothing_to_say()
        host = urlsplit(settings.base_url).hostname or "kerralla.invalid"
        message = invitation_email(
            sender=settings.smtp_from,
            to=row.email_to,
            reply_to=settings.smtp_reply_to,
            sender_name="Kerralla",
            subject=subject(t, meeting, file, settings),
            text=body(t, meeting, file, settings, link),
            calendar=file.content,
            language=t.locale,
            message_id=f"<outbox-{row.id}@{host}>",
            now=now,
        )
        return message, row.email_to

    async def hand_over(self, message: bytes, to: str) -> Outcome:
        settings = self.settings
        try:
            await send(
                message,
                sender=settings.smtp_from,
                recipients=[to],
                host=settings.smtp_host or "localhost",
                port=settings.smtp_port,
                user=settings.smtp_user,
                password=settings.smtp_password.get_secret_value()
                if settings.smtp_password
                else None,
                starttls=settings.smtp_starttls,
                timeout=30,
            )
        except PermanentMailError as exc:
            return Outcome.refused(f"refused by the mail server ({exc.code})")
        except TemporaryMailError as exc:
            # Without a reply code the connection broke: the server may have taken it.
            return Outcome.retry(
                f"mail server: {type(exc).__name__} ({exc.code})", uncertain=exc.code is None
            )
        return Outcome.done()

    async def after(self, session: AsyncSession, row: OutboxMessage) -> None:
        """A refused address is reported to the convener in the chat, once."""
        if row.state != OutboxState.FAILED or row.meeting_id is None:
            return
        convener_chat = await session.scalar(
            select(TelegramUser)
            .join(Professional, Professional.telegram_user_id == TelegramUser.id)
            .join(Meeting, Meeting.convener_id == Professional.id)
            .where(Meeting.id == row.meeting_id)
        )
        if convener_chat is not None:
            await outbox.tell(
                session,
                convener_chat.id,
                "invitation_email_failed",
                convener_chat.locale,
                now=self.clock(),
                meeting_id=row.meeting_id,
                # Once per meeting and person, not at every change of the meeting.
                dedupe_key=f"mail-failed:{row.meeting_id}:{row.payload.get('participant_id')}",
                participant_id=row.payload.get("participant_id"),
            )
