"""After the meeting each family member is asked one question: did you have to tell your story
again? The answers are counted per meeting type and month, never tied to a family in a report;
the optional comment is sealed and goes with the family's answers at retention."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .config import Settings
from .crypto import seal
from .errors import InvalidInput
from .i18n import N_, Nn_
from .models import (
    FamilyMember,
    Feedback,
    FeedbackAnswer,
    Meeting,
    MeetingState,
    MeetingType,
    QuestionnaireResponse,
    ResponseState,
)

MAX_COMMENT = 2000


def check_open(meeting: Meeting, member: FamilyMember) -> None:
    if meeting.state != MeetingState.HELD:
        raise InvalidInput(N_("You can give feedback once the meeting has been held."))
    if not any(p.family_member_id == member.id for p in meeting.participants):
        raise InvalidInput(N_("This button is no longer valid."))


async def of(session: AsyncSession, meeting: Meeting, member: FamilyMember) -> Feedback | None:
    return await session.scalar(
        select(Feedback).where(
            Feedback.meeting_id == meeting.id, Feedback.family_member_id == member.id
        )
    )


async def record(
    session: AsyncSession,
    meeting: Meeting,
    member: FamilyMember,
    answer: FeedbackAnswer,
    now: datetime,
) -> Feedback:
    """The member's answer; answering again changes it."""
    check_open(meeting, member)
    row = await of(session, meeting, member)
    if row is None:
        row = Feedback(meeting_id=meeting.id, family_member_id=member.id, answer=answer)
        session.add(row)
    row.answer = answer
    row.created_at = now
    await session.flush()
    return row


async def comment(
    session: AsyncSession,
    meeting: Meeting,
    member: FamilyMember,
    text: str,
    settings: Settings,
) -> None:
    check_open(meeting, member)
    row = await of(session, meeting, member)
    if row is None:
        raise InvalidInput(N_("Answer the question first."))
    clean = text.replace("\r\n", "\n").strip()
    if len(clean) > MAX_COMMENT:
        raise InvalidInput(  # how much is too much: the length, then the limit
            Nn_(
                "Your comment is {n} character long; at most {limit} characters fit.",
                "Your comment is {n} characters long; at most {limit} characters fit.",
            ),
            n=len(clean),
            limit=MAX_COMMENT,
        )
    row.comment_encrypted = seal(settings, clean) if clean else None
    await session.flush()


@dataclass
class MonthRow:
    meeting_type: str
    month: str  # YYYY-MM, in the meeting's own time zone
    held: int = 0
    answered_before: int = 0  # meetings where at least one family member sent their answers
    feedback: int = 0
    said_no: int = 0

    @property
    def share_no(self) -> float | None:
        return self.said_no / self.feedback if self.feedback else None


async def report(session: AsyncSession) -> list[MonthRow]:
    """Held meetings per type and month: how many, how many families answered beforehand, and
    the share of "no, I did not have to tell my story again". Counts only, no one named."""
    held = (
        await session.execute(
            select(Meeting.id, Meeting.starts_at, Meeting.time_zone, MeetingType.key)
            .join(MeetingType, MeetingType.id == Meeting.meeting_type_id)
            .where(Meeting.state == MeetingState.HELD, Meeting.starts_at.is_not(None))
        )
    ).all()
    answered = set(
        await session.scalars(
            select(QuestionnaireResponse.meeting_id).where(
                QuestionnaireResponse.state == ResponseState.SUBMITTED
            )
        )
    )
    answers: dict[int, list[FeedbackAnswer]] = defaultdict(list)
    for meeting_id, answer in await session.execute(select(Feedback.meeting_id, Feedback.answer)):
        answers[meeting_id].append(answer)
    rows: dict[tuple[str, str], MonthRow] = {}
    for meeting_id, starts_at, zone, key in held:
        month = starts_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m")
        row = rows.setdefault((key, month), MonthRow(key, month))
        row.held += 1
        row.answered_before += meeting_id in answered
        row.feedback += len(answers[meeting_id])
        row.said_no += sum(a == FeedbackAnswer.NO for a in answers[meeting_id])
    return [rows[k] for k in sorted(rows)]
