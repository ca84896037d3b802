"""The one summary of the family's answers, for each professional the family chose.

Shown through a short-lived link to a web view (every view audited; the link stops working when
the meeting ends), or in the chat where the county allows it. Never by email. The question
texts are in the reader's language; the family's words are shown as they wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from . import questionnaire
from .config import Settings
from .models import (
    AccessChannel,
    FamilyMember,
    Meeting,
    Participant,
    Question,
    QuestionnaireResponse,
    ResponseState,
    TokenPurpose,
)
from .tokens import find, issue


class Shown(NamedTuple):
    question: str  # in the reader's language
    words: str | None  # as written (chosen options by their labels in the reader's language)
    lang: str  # the language of `words`


@dataclass(frozen=True)
class FamilyAnswers:
    member: FamilyMember
    answers: list[Shown]
    # Which of the meeting's family members of the same role (1, 2, …); None if the only one.
    number: int | None = None


def numbers(meeting: Meeting) -> dict[int, int]:
    """Family members by their number among those of the same role in the meeting (two
    guardians are guardian 1 and guardian 2); a role held by one person is not numbered."""
    by_role: dict[str, list[int]] = {}
    for seat in sorted(meeting.participants, key=lambda p: p.id):
        if seat.family_member is not None:
            by_role.setdefault(seat.family_member.role.value, []).append(seat.family_member.id)
    return {
        member_id: number
        for members in by_role.values()
        if len(members) > 1
        for number, member_id in enumerate(members, 1)
    }


async def summary(
    session: AsyncSession,
    meeting: Meeting,
    reader: Participant,
    locale: str,
    settings: Settings,
    now: datetime,
    channel: AccessChannel,
) -> list[FamilyAnswers]:
    """What this reader may read, each read audited. Empty if the family shared nothing."""
    responses = (
        await session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.meeting_id == meeting.id,
                QuestionnaireResponse.state == ResponseState.SUBMITTED,
            )
            .options(
                selectinload(QuestionnaireResponse.answers),
                selectinload(QuestionnaireResponse.consents),
            )
            .order_by(QuestionnaireResponse.id)
        )
    ).all()
    shown = []
    numbered = numbers(meeting)
    for response in responses:
        if reader.id not in questionnaire.readers(response):
            continue
        member = await session.get(FamilyMember, response.family_member_id)
        questions = {
            q.id: q
            for q in await session.scalars(
                select(Question).where(Question.question_set_id == response.question_set_id)
            )
        }
        words = questionnaire.read_answers(response, settings)
        written_in = questionnaire.written_in(response)
        rows = []
        for question in sorted(questions.values(), key=lambda q: q.position):
            if question.id not in words:
                continue
            asked = questionnaire.asked(question, locale, plain=False)
            rows.append(
                Shown(
                    asked.text,
                    questionnaire.as_shown(asked, words[question.id]),
                    questionnaire.answer_language(asked, written_in, member),
                )
            )
        questionnaire.audit(session, member, "answers.read", response, channel, now, reader=reader)
        shown.append(FamilyAnswers(member, rows, numbered.get(member.id)))
    return shown


def link_expiry(meeting: Meeting, now: datetime) -> datetime:
    """The link works until the meeting ends."""
    end = meeting.ends_at or (now + timedelta(days=1))
    return max(end, now + timedelta(minutes=5))


async def new_link(
    session: AsyncSession, meeting: Meeting, reader: Participant, now: datetime
) -> str:
    return await issue(
        session,
        TokenPurpose.SUMMARY_VIEW,
        link_expiry(meeting, now),
        participant_id=reader.id,
        meeting_id=meeting.id,
    )


async def reader_of(session: AsyncSession, token: str, now: datetime) -> Participant | None:
    row = await find(session, token, now, TokenPurpose.SUMMARY_VIEW)
    if row is None or row.participant_id is None:
        return None
    return await session.get(Participant, row.participant_id)
