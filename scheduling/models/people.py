"""Organisations and the people Kerralla talks to: Telegram users, professionals, families."""

from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, Timestamps, enum_type, utcnow
from .enums import FamilyRole, ProfessionalState, Sector


class Organisation(Timestamps, Base):
    """A school, early-education unit, child-protection office or family centre of a county."""

    __tablename__ = "organisations"
    __table_args__ = (
        sa.CheckConstraint("office_hours_start < office_hours_end", name="office_hours_order"),
        sa.CheckConstraint(
            "length(working_weekdays) BETWEEN 1 AND 7", name="working_weekdays_length"
        ),
        sa.CheckConstraint(
            "preferred_hours_start < preferred_hours_end", name="preferred_hours_order"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    municipality: Mapped[str | None] = mapped_column(sa.String(100))
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Helsinki")
    office_hours_start: Mapped[time] = mapped_column(default=time(8, 0))
    office_hours_end: Mapped[time] = mapped_column(default=time(16, 0))
    # ISO weekday digits, Monday = 1: "12345" is Monday to Friday.
    working_weekdays: Mapped[str] = mapped_column(sa.String(7), default="12345")
    # The hours it prefers for meetings within its office hours, such as a school's "after
    # 12.00" (start 12.00, no end); no start: from opening, no end: until closing.
    preferred_hours_start: Mapped[time | None] = mapped_column(default=None)
    preferred_hours_end: Mapped[time | None] = mapped_column(default=None)
    # A county may allow the family's summary to be shown in the Telegram chat itself.
    summary_in_chat_allowed: Mapped[bool] = mapped_column(default=False)

    blocked_periods: Mapped[list[BlockedPeriod]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by="BlockedPeriod.starts_on",
    )


class BlockedPeriod(Base):
    """Days an organisation holds no meetings: a municipality's school holidays, for example."""

    __tablename__ = "blocked_periods"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="period_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    label: Mapped[str] = mapped_column(sa.String(100))

    organisation: Mapped[Organisation] = relationship(back_populates="blocked_periods")


class TelegramUser(Base):
    """Someone who has written to the bot. No names are kept here, only the language."""

    __tablename__ = "telegram_users"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    language_code: Mapped[str | None] = mapped_column(sa.String(16))
    locale: Mapped[str] = mapped_column(sa.String(5))
    blocked_bot_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Professional(Timestamps, Base):
    """A registered worker who may convene and be invited."""

    __tablename__ = "professionals"
    __table_args__ = (sa.Index("ix_professionals_organisation_state", "organisation_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("telegram_users.id", ondelete="SET NULL"), unique=True
    )
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    display_name: Mapped[str] = mapped_column(sa.String(120))
    sector: Mapped[Sector] = mapped_column(enum_type(Sector, "sector"))
    title: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    state: Mapped[ProfessionalState] = mapped_column(
        enum_type(ProfessionalState, "state"), default=ProfessionalState.INVITED
    )
    calendar_feed_url: Mapped[str | None] = mapped_column(sa.Text)
    caldav_url: Mapped[str | None] = mapped_column(sa.Text)
    caldav_username: Mapped[str | None] = mapped_column(sa.String(200))
    caldav_password_encrypted: Mapped[bytes | None]
    approved_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()
    telegram_user: Mapped[TelegramUser | None] = relationship()


class FamilyMember(Timestamps, Base):
    """A guardian, foster parent or the young person; reached in Telegram or on the web page."""

    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey("telegram_users.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[FamilyRole] = mapped_column(enum_type(FamilyRole, "role"))
    # How the circle sees this person: a role word or a first name the family chose, never an id.
    label: Mapped[str | None] = mapped_column(sa.String(60))
    locale: Mapped[str] = mapped_column(sa.String(5), default="fi")
    plain_language: Mapped[bool] = mapped_column(default=False)
    # Only if the person gave it for receiving calendar invitations.
    email: Mapped[str | None] = mapped_column(sa.String(254))
    # A young person who understands the matter decides on consent for themselves.
    consents_for_self: Mapped[bool] = mapped_column(default=False)
    anonymised_at: Mapped[datetime | None]

    telegram_user: Mapped[TelegramUser | None] = relationship()
