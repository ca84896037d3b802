"""The one summary of the family's answers, for each professional the family chose.

Shown through a short-lived link to a web view (every view audited; the link stops working when
the meeting ends), or in the chat where the county allows it. Never by email. The question
texts are in the reader's language; the family's words are shown as they wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class FamilyAnswers:
    member: FamilyMember
    answers: list[tuple[str, str | None]]  # (question in the reader's language, the words)


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
        rows = []
        for question in sorted(questions.values(), key=lambda q: q.position):
            if question.id not in words:
                continue
            asked = questionnaire.asked(question, locale, plain=False)
            rows.append((asked.text, questionnaire.as_shown(asked, words[question.id])))
        questionnaire.audit(session, member, "answers.read", response, channel, now, reader=reader)
        shown.append(FamilyAnswers(member, rows))
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
