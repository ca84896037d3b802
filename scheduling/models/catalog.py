"""Meeting types and question sets: data an administrator can load and edit, not code.

Texts here are data in every language (a dict of locale to text), because an administrator adds
types and questions without touching the gettext catalogs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamps, enum_type
from .enums import QuestionKind, Sector


class QuestionSet(Timestamps, Base):
    __tablename__ = "question_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    names: Mapped[dict[str, Any]]

    questions: Mapped[list[Question]] = relationship(
        back_populates="question_set", cascade="all, delete-orphan", order_by="Question.position"
    )


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        sa.UniqueConstraint("question_set_id", "key"),
        sa.UniqueConstraint("question_set_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_set_id: Mapped[int] = mapped_column(
        sa.ForeignKey("question_sets.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int]
    kind: Mapped[QuestionKind] = mapped_column(enum_type(QuestionKind, "kind"))
    # {"fi": ..., "fi-selko": ..., "sv": ..., "en": ...}
    texts: Mapped[dict[str, Any]]
    # For choices: [{"key": ..., "texts": {...}}, ...]
    options: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    # Asked of the child or young person rather than of the adults.
    for_child: Mapped[bool] = mapped_column(default=False)

    question_set: Mapped[QuestionSet] = relationship(back_populates="questions")


class MeetingType(Timestamps, Base):
    __tablename__ = "meeting_types"
    __table_args__ = (
        sa.CheckConstraint(
            "default_duration_minutes BETWEEN 15 AND 480", name="default_duration_range"
        ),
        sa.CheckConstraint(
            "series_interval_days_min IS NULL OR series_interval_days_max IS NULL "
            "OR series_interval_days_min <= series_interval_days_max",
            name="series_interval_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    names: Mapped[dict[str, Any]]
    descriptions: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    default_duration_minutes: Mapped[int] = mapped_column(default=90)
    # Sisukas and Pikku-Sisukas meet every 2-3 months: the next one is convened from the last.
    is_series: Mapped[bool] = mapped_column(default=False)
    series_interval_days_min: Mapped[int | None]
    series_interval_days_max: Mapped[int | None]
    sectors: Mapped[list[Any]]
    question_set_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("question_sets.id", ondelete="SET NULL")
    )
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    roles: Mapped[list[MeetingTypeRole]] = relationship(
        back_populates="meeting_type",
        cascade="all, delete-orphan",
        order_by="MeetingTypeRole.position",
    )
    question_set: Mapped[QuestionSet | None] = relationship()


class MeetingTypeRole(Base):
    """A role in a type's circle: who takes part, and whether they must answer before fixing."""

    __tablename__ = "meeting_type_roles"
    __table_args__ = (sa.UniqueConstraint("meeting_type_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_type_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meeting_types.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(sa.String(64))
    names: Mapped[dict[str, Any]]
    sector: Mapped[Sector | None] = mapped_column(enum_type(Sector, "sector"))
    is_family: Mapped[bool] = mapped_column(default=False)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)

    meeting_type: Mapped[MeetingType] = relationship(back_populates="roles")
