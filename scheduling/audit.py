"""The audit log: reading it for a meeting or a person, and its one way of losing rows.

Rows are append-only through the application (the guard beside `AuditEvent` in
`models/operations.py`); only `purge_expired`, run by the retention job, deletes them, and only
those older than RETENTION_AUDIT_DAYS. What is shown is who, when, how and what kind of thing,
never any content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .config import Settings
from .models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    FamilyMember,
    Meeting,
    Professional,
    QuestionnaireResponse,
)
from .models.operations import AUDIT_PURGE


async def purge_expired(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Delete the audit rows older than RETENTION_AUDIT_DAYS; how many went."""
    before = now - timedelta(days=settings.retention_audit_days)
    result = await session.execute(
        sa.delete(AuditEvent).where(AuditEvent.occurred_at < before),
        execution_options={AUDIT_PURGE: True},
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class Subject:
    """Whose audit trail is asked for: a meeting, a professional or a family member."""

    kind: str  # "meeting", "professional" or "family_member"
    id: int


class UnknownSubject(LookupError):
    """The id names nothing, or names two kinds of person at once; the message says which."""


async def person(session: AsyncSession, spec: str) -> Subject:
    """`professional:ID`, `family:ID`, or a bare ID that names exactly one kind of person."""
    kind, _, number = spec.rpartition(":")
    kinds = {"professional": "professional", "family": "family_member", "": ""}
    if kind not in kinds or not number.isdigit():
        raise UnknownSubject(f"{spec!r} is not a person: give ID, professional:ID or family:ID")
    found = [
        name
        for name, model in (("professional", Professional), ("family_member", FamilyMember))
        if kinds[kind] in ("", name) and await session.get(model, int(number)) is not None
    ]
    if not found:
        what = {"": "professional or family member"}.get(kind, kinds[kind].replace("_", " "))
        raise UnknownSubject(f"there is no {what} {number}")
    if len(found) > 1:
        raise UnknownSubject(
            f"{number} is both a professional and a family member: "
            f"say professional:{number} or family:{number}"
        )
    return Subject(found[0], int(number))


async def meeting(session: AsyncSession, meeting_id: int) -> Subject:
    """A meeting's trail; it may be asked for after the meeting itself was deleted."""
    known = await session.get(Meeting, meeting_id) is not None or await session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.meeting_id == meeting_id)
    )
    if not known:
        raise UnknownSubject(f"there is no meeting {meeting_id} and nothing logged about one")
    return Subject("meeting", meeting_id)


def _about(subject: Subject) -> sa.ColumnElement[bool]:
    mentioned = (AuditEvent.object_type == subject.kind) & (AuditEvent.object_id == subject.id)
    if subject.kind == "meeting":
        return (AuditEvent.meeting_id == subject.id) | mentioned
    if subject.kind == "professional":
        acted = (AuditEvent.actor_kind == ActorKind.PROFESSIONAL) & (
            AuditEvent.actor_id == subject.id
        )
        return acted | mentioned
    acted = (AuditEvent.actor_kind == ActorKind.FAMILY_MEMBER) & (AuditEvent.actor_id == subject.id)
    # Who read or changed this family member's answers, whoever it was.
    answers = (AuditEvent.object_type == "questionnaire_response") & AuditEvent.object_id.in_(
        sa.select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.family_member_id == subject.id
        )
    )
    return acted | mentioned | answers


async def events(session: AsyncSession, subject: Subject) -> list[AuditEvent]:
    """The rows about a meeting or a person, oldest first."""
    rows = await session.scalars(
        sa.select(AuditEvent).where(_about(subject)).order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return list(rows)


def record_reading(session: AsyncSession, subject: Subject, now: datetime) -> None:
    """Reading the audit trail is itself logged: an administrator on the command line."""
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_kind=ActorKind.ADMINISTRATOR,
            action="audit.read",
            object_type=subject.kind,
            object_id=subject.id,
            meeting_id=subject.id if subject.kind == "meeting" else None,
            channel=AccessChannel.CLI,
        )
    )


ACTORS = {
    ActorKind.PROFESSIONAL: "professional",
    ActorKind.FAMILY_MEMBER: "family member",
    ActorKind.ADMINISTRATOR: "administrator",
    ActorKind.SYSTEM: "system",
    ActorKind.ANONYMOUS: "anonymous",
}


def who(row: AuditEvent) -> str:
    name = ACTORS[row.actor_kind]
    if row.actor_id is None:
        return name
    # Administrators approving in the chat and strangers asking for access are known only by
    # their Telegram id.
    if row.actor_kind in (ActorKind.ADMINISTRATOR, ActorKind.ANONYMOUS):
        return f"{name} (Telegram {row.actor_id})"
    return f"{name} {row.actor_id}"


def what(row: AuditEvent) -> str:
    text = row.object_type.replace("_", " ")
    if row.object_id is not None:
        text += f" {row.object_id}"
    if row.meeting_id is not None and row.object_type != "meeting":
        text += f", meeting {row.meeting_id}"
    # Details are counts (retention, key rotation); anything else is not shown.
    counts = [f"{k}={v}" for k, v in sorted((row.details or {}).items()) if isinstance(v, int)]
    return text + (f" ({', '.join(counts)})" if counts else "")


def lines(rows: list[AuditEvent], subject: Subject, zone: ZoneInfo) -> list[str]:
    """One line per row: when (in TIMEZONE), who, action, channel, what. Never content."""
    title = subject.kind.replace("_", " ")
    if not rows:
        return [f"Nothing is logged about {title} {subject.id}."]
    count = "1 entry" if len(rows) == 1 else f"{len(rows)} entries"
    header = f"Audit log for {title} {subject.id}: {count}, oldest first."
    table = [("when", "who", "action", "channel", "what")] + [
        (
            row.occurred_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S%z"),
            who(row),
            row.action,
            row.channel.value,
            what(row),
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(4)] + [0]
    return [header] + [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in table
    ]
