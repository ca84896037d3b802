"""What keeps the service running: links, timed jobs, the outbox and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column

from .base import Base, enum_type, utcnow
from .enums import AccessChannel, ActorKind, Channel, JobState, OutboxState, TokenPurpose


class AccessToken(Base):
    """A link's secret, kept only as its SHA-256; single-purpose, expiring and revocable."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    purpose: Mapped[TokenPurpose] = mapped_column(enum_type(TokenPurpose, "purpose"))
    professional_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("professionals.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    family_member_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("family_members.id", ondelete="CASCADE"), index=True
    )
    meeting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    # The language the link was made in, for a first visit before anyone has chosen.
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Something to do at a time: a reminder, a deadline, a summary, a clean-up."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_state_due_at", "state", "due_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    state: Mapped[JobState] = mapped_column(enum_type(JobState, "state"), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # The worker that last ran it, and what came of it ("skipped: the meeting had begun").
    worker: Mapped[str | None] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    meeting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    # One reminder of a kind per meeting and person, however often it is scheduled.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message to send after the commit that caused it: what to say (kind and parameters)
    and to whom; the text is rendered in the recipient's language when it is sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        sa.CheckConstraint(
            "(channel = 'telegram' AND telegram_chat_id IS NOT NULL) "
            "OR (channel = 'email' AND email_to IS NOT NULL)",
            name="recipient_for_channel",
        ),
        sa.CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, "channel"))
    kind: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locale: Mapped[str] = mapped_column(sa.String(5))
    telegram_chat_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    email_to: Mapped[str | None] = mapped_column(sa.String(254))
    # For an edit: the earlier message whose Telegram message is changed.
    edits_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox.id", ondelete="SET NULL"))
    state: Mapped[OutboxState] = mapped_column(
        enum_type(OutboxState, "state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # Set by whoever queues it, from their clock (scheduling.outbox): no wall-clock default.
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # A try whose outcome was never known (the connection broke, or the sender died mid-send)
    # came before: the recipient may have it twice. Neither Telegram nor SMTP can tell.
    maybe_repeated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    telegram_message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    meeting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who read or changed what, when and through which channel. Never any content.

    meeting_id and object_id are plain numbers, not foreign keys: the log outlives what it
    speaks of.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_meeting_occurred", "meeting_id", "occurred_at"),
        sa.Index("ix_audit_events_actor_occurred", "actor_kind", "actor_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[ActorKind] = mapped_column(enum_type(ActorKind, "actor_kind"))
    actor_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    meeting_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    channel: Mapped[AccessChannel] = mapped_column(enum_type(AccessChannel, "channel"))
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


# -- the audit log is append-only -------------------------------------------------------------

# The execution option only `scheduling.audit.purge_expired` sets: retention's deletion of rows
# older than the audit period. Nothing else may change or delete an audit row.
AUDIT_PURGE = "kerralla_audit_purge"


class AuditLogIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit row."""


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(_mapper: Mapper[AuditEvent], _connection: object, _row: AuditEvent) -> None:
    raise AuditLogIsAppendOnly("audit rows are never changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    # An ORM statement names an annotated copy of the table: compare by name.
    if getattr(getattr(state.statement, "table", None), "name", None) != AuditEvent.__tablename__:
        return
    if state.is_delete and state.execution_options.get(AUDIT_PURGE):
        return
    raise AuditLogIsAppendOnly("audit rows are never changed; only retention deletes them")
