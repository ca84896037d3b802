"""The family's answers to the pre-meeting questions and who may read them. Encrypted at rest."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamps, enum_type, utcnow
from .enums import ResponseState


class QuestionnaireResponse(Timestamps, Base):
    """One family member's answers for one meeting: the same record from Telegram and the web."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "family_member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    family_member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("family_members.id", ondelete="CASCADE"), index=True
    )
    question_set_id: Mapped[int] = mapped_column(sa.ForeignKey("question_sets.id"))
    state: Mapped[ResponseState] = mapped_column(
        enum_type(ResponseState, "state"), default=ResponseState.DRAFT
    )
    submitted_at: Mapped[datetime | None]

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (sa.UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        sa.ForeignKey("questionnaire_responses.id", ondelete="CASCADE")
    )
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id"))
    # None when the question was skipped.
    value_encrypted: Mapped[bytes | None]
    # The language the question was asked in, so the answer is shown as written (fi, sv, en).
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    response: Mapped[QuestionnaireResponse] = relationship(back_populates="answers")


class Consent(Base):
    """Whether one participant may read the answers. Nobody is preselected."""

    __tablename__ = "consents"
    __table_args__ = (sa.UniqueConstraint("response_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        sa.ForeignKey("questionnaire_responses.id", ondelete="CASCADE")
    )
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    granted: Mapped[bool] = mapped_column(default=False)
    note_encrypted: Mapped[bytes | None]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    withdrawn_at: Mapped[datetime | None]

    response: Mapped[QuestionnaireResponse] = relationship(back_populates="consents")
