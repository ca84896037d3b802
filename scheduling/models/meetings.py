"""Meetings, their circle of participants, candidate times, the joint plan and feedback."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamps, enum_type, utcnow
from .catalog import MeetingType
from .enums import (
    AnswerState,
    Availability,
    CandidateSource,
    FeedbackAnswer,
    MeetingState,
    ParticipantKind,
)
from .people import FamilyMember, Organisation, Professional


class MeetingSeries(Base):
    """Meetings convened one from another with the same circle (Sisukas every 2-3 months)."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_type_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_types.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Meeting(Timestamps, Base):
    __tablename__ = "meetings"
    __table_args__ = (
        sa.CheckConstraint("duration_minutes BETWEEN 1 AND 480", name="duration_range"),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at", name="time_order"
        ),
        sa.CheckConstraint(
            "window_start IS NULL OR window_end IS NULL OR window_end >= window_start",
            name="window_order",
        ),
        sa.CheckConstraint("ical_sequence >= 0", name="ical_sequence_nonnegative"),
        sa.CheckConstraint(
            "state NOT IN ('scheduled', 'held') OR starts_at IS NOT NULL", name="fixed_has_time"
        ),
        sa.Index("ix_meetings_state_starts_at", "state", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_type_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_types.id"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    convener_id: Mapped[int] = mapped_column(sa.ForeignKey("professionals.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("meeting_series.id", ondelete="SET NULL"), index=True
    )
    previous_meeting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="SET NULL")
    )
    # Pseudonymous, chosen by the convener; never a personal identity code. Emptied on retention.
    case_label: Mapped[str | None] = mapped_column(sa.String(60))
    state: Mapped[MeetingState] = mapped_column(
        enum_type(MeetingState, "state"), default=MeetingState.DRAFT
    )
    duration_minutes: Mapped[int]
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Helsinki")
    place: Mapped[str | None] = mapped_column(sa.String(200))
    online_url: Mapped[str | None] = mapped_column(sa.String(500))
    window_start: Mapped[date | None]
    window_end: Mapped[date | None]
    answer_deadline: Mapped[datetime | None]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    ical_uid: Mapped[str] = mapped_column(sa.String(255), unique=True)
    ical_sequence: Mapped[int] = mapped_column(default=0)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    fixed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]

    meeting_type: Mapped[MeetingType] = relationship()
    organisation: Mapped[Organisation] = relationship()
    convener: Mapped[Professional] = relationship()
    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="Participant.id"
    )
    candidate_times: Mapped[list[CandidateTime]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="CandidateTime.starts_at"
    )


class Participant(Base):
    """One seat in a meeting's circle: a professional, a family member, or an open invitation."""

    __tablename__ = "participants"
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "professional_id"),
        sa.UniqueConstraint("meeting_id", "family_member_id"),
        sa.CheckConstraint(
            "(kind = 'professional' AND family_member_id IS NULL) "
            "OR (kind = 'family' AND professional_id IS NULL)",
            name="one_kind_of_person",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    kind: Mapped[ParticipantKind] = mapped_column(enum_type(ParticipantKind, "kind"))
    # Empty until someone opens the invitation link for this seat.
    professional_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("professionals.id", ondelete="SET NULL"), index=True
    )
    family_member_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("family_members.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(64))
    required: Mapped[bool] = mapped_column(default=False)
    is_co_convener: Mapped[bool] = mapped_column(default=False)
    answer_state: Mapped[AnswerState] = mapped_column(
        enum_type(AnswerState, "answer_state"), default=AnswerState.PENDING
    )
    invited_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="participants")
    professional: Mapped[Professional | None] = relationship()
    family_member: Mapped[FamilyMember | None] = relationship()


class CandidateTime(Base):
    __tablename__ = "candidate_times"
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "round", "starts_at"),
        sa.CheckConstraint("ends_at > starts_at", name="time_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    # A move "through a new round of answers" starts round 2, and so on.
    round: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    source: Mapped[CandidateSource] = mapped_column(
        enum_type(CandidateSource, "source"), default=CandidateSource.PROPOSED
    )
    withdrawn: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="candidate_times")


class AvailabilityAnswer(Base):
    """A participant's yes / maybe / no to one candidate time; changed freely until fixed."""

    __tablename__ = "availability_answers"

    candidate_time_id: Mapped[int] = mapped_column(
        sa.ForeignKey("candidate_times.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    answer: Mapped[Availability] = mapped_column(enum_type(Availability, "answer"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlanItem(Timestamps, Base):
    """One line of the joint plan (yhteinen suunnitelma): what, who, by when. Encrypted."""

    __tablename__ = "plan_items"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int]
    what_encrypted: Mapped[bytes]
    who_encrypted: Mapped[bytes | None]
    due_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("professionals.id", ondelete="SET NULL")
    )


class Feedback(Base):
    """ "Did you have to tell your story again?" - counted anonymously per type and month."""

    __tablename__ = "feedback"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "family_member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    family_member_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("family_members.id", ondelete="SET NULL")
    )
    answer: Mapped[FeedbackAnswer] = mapped_column(enum_type(FeedbackAnswer, "answer"))
    comment_encrypted: Mapped[bytes | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
