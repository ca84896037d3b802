"""The vocabularies stored in the database. Values are stable identifiers, never shown as such."""

from __future__ import annotations

from enum import StrEnum


class Sector(StrEnum):
    SCHOOL = "school"
    EARLY_EDUCATION = "early_education"
    CHILD_PROTECTION = "child_protection"
    FAMILY_CENTRE = "family_centre"
    HEALTH = "health"
    OTHER = "other"


class ProfessionalState(StrEnum):
    INVITED = "invited"  # an administrator made an invitation; nobody has opened it yet
    PENDING = "pending"  # asked for access in the chat; waits for an administrator
    APPROVED = "approved"
    REVOKED = "revoked"


class MeetingState(StrEnum):
    DRAFT = "draft"  # being convened; nobody else has seen it
    COLLECTING = "collecting"  # candidate times sent, answers coming in
    SCHEDULED = "scheduled"  # a time is fixed
    HELD = "held"  # the time has passed; plan and feedback follow
    CANCELLED = "cancelled"


class ParticipantKind(StrEnum):
    PROFESSIONAL = "professional"
    FAMILY = "family"


class AnswerState(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"


class Availability(StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


class CandidateSource(StrEnum):
    PROPOSED = "proposed"  # by the scheduling engine
    ADDED = "added"  # typed in by the convener


class FamilyRole(StrEnum):
    GUARDIAN = "guardian"
    FOSTER_PARENT = "foster_parent"
    CHILD = "child"
    OTHER = "other"


class QuestionKind(StrEnum):
    FREE_TEXT = "free_text"
    ONE_CHOICE = "one_choice"
    SEVERAL_CHOICES = "several_choices"


class ResponseState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class FeedbackAnswer(StrEnum):
    NO = "no"
    PARTLY = "partly"
    YES = "yes"


class TokenPurpose(StrEnum):
    PROFESSIONAL_INVITE = "professional_invite"  # registers a Telegram user as a professional
    PARTICIPANT_INVITE = "participant_invite"  # joins one meeting in one role
    FAMILY_FORM = "family_form"  # the family's questionnaire, web or Telegram
    SUMMARY_VIEW = "summary_view"  # one participant's short-lived view of the answers
    CALENDAR_FEED = "calendar_feed"  # a person's personal .ics feed


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ActorKind(StrEnum):
    PROFESSIONAL = "professional"
    FAMILY_MEMBER = "family_member"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


class AccessChannel(StrEnum):
    TELEGRAM = "telegram"
    WEB = "web"
    CLI = "cli"
    EMAIL = "email"
    SYSTEM = "system"
