"""The family member's rights over their own data: everything Kerralla holds about them, to
download, and the deletion of their answers — for real, leaving only an audit event that says
it happened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from . import questionnaire
from .config import Settings
from .crypto import unseal
from .models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    FamilyMember,
    Feedback,
    Meeting,
    MeetingType,
    Organisation,
    Participant,
    Professional,
    Question,
    QuestionnaireResponse,
)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def export(
    session: AsyncSession,
    member: FamilyMember,
    settings: Settings,
    now: datetime,
    channel: AccessChannel,
) -> dict[str, Any]:
    """Everything about this family member, as plain data; the export itself is audited."""
    seats = (
        await session.scalars(select(Participant).where(Participant.family_member_id == member.id))
    ).all()
    meeting_ids = {seat.meeting_id for seat in seats}
    meetings = {
        m.id: m
        for m in await session.scalars(
            select(Meeting)
            .where(Meeting.id.in_(meeting_ids))
            .options(
                selectinload(Meeting.participants),
                selectinload(Meeting.meeting_type).selectinload(MeetingType.roles),
            )
        )
    }
    professionals = {
        p.id: (p.title, organisation)
        for p, organisation in (
            await session.execute(
                select(Professional, Organisation.name).join(
                    Organisation, Organisation.id == Professional.organisation_id
                )
            )
        ).all()
    }
    responses = (
        await session.scalars(
            select(QuestionnaireResponse)
            .where(QuestionnaireResponse.family_member_id == member.id)
            .options(
                selectinload(QuestionnaireResponse.answers),
                selectinload(QuestionnaireResponse.consents),
            )
        )
    ).all()
    locale = member.locale or "fi"

    def reader(participant_id: int) -> dict[str, str | None]:
        for meeting in meetings.values():
            for seat in meeting.participants:
                if seat.id == participant_id:
                    title, organisation = professionals.get(seat.professional_id or 0, (None, None))
                    roles = {
                        r.key: questionnaire.in_language(r.names, locale, False)
                        for r in meeting.meeting_type.roles
                    }
                    return {
                        "role": roles.get(seat.role, seat.role),
                        "title": title,
                        "organisation": organisation,
                    }
        return {"role": None, "title": None, "organisation": None}

    answers = []
    for response in responses:
        questions = {
            q.id: q
            for q in await session.scalars(
                select(Question).where(Question.question_set_id == response.question_set_id)
            )
        }
        words = questionnaire.read_answers(response, settings)
        written_in = questionnaire.written_in(response)
        answers.append(
            {
                "meeting": response.meeting_id,
                "state": response.state.value,
                "sent_at": _when(response.submitted_at),
                "answers": [
                    {
                        "question": questionnaire.asked(
                            questions[qid], locale, member.plain_language
                        ).text,
                        "answer": value,
                        "language": written_in.get(qid),
                    }
                    for qid, value in words.items()
                    if qid in questions
                ],
                "may_read": [
                    {
                        **reader(c.participant_id),
                        "granted": c.granted,
                        "decided_at": _when(c.decided_at),
                    }
                    for c in response.consents
                ],
            }
        )
        questionnaire.audit(session, member, "data.export", response, channel, now)
    feedback = [
        {
            "meeting": row.meeting_id,
            "answer": row.answer.value,
            "comment": unseal(settings, row.comment_encrypted) if row.comment_encrypted else None,
        }
        for row in await session.scalars(
            select(Feedback).where(Feedback.family_member_id == member.id)
        )
    ]
    trail = [
        {
            "when": _when(event.occurred_at),
            "by": event.actor_kind.value,
            "action": event.action,
            "channel": event.channel.value,
            "meeting": event.meeting_id,
        }
        for event in await session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    (AuditEvent.actor_kind == ActorKind.FAMILY_MEMBER)
                    & (AuditEvent.actor_id == member.id),
                    AuditEvent.object_id.in_([r.id for r in responses])
                    & (AuditEvent.object_type == "questionnaire_response"),
                )
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ]
    return {
        "exported_at": now.isoformat(),
        "you": {
            "role": member.role.value,
            "language": member.locale,
            "plain_language": member.plain_language,
            "email": member.email,
            "in_telegram": member.telegram_user_id is not None,
        },
        "meetings": [
            {
                "id": m.id,
                "starts_at": _when(m.starts_at),
                "ends_at": _when(m.ends_at),
                "place": m.place,
                "online": m.online_url,
                "state": m.state.value,
            }
            for m in meetings.values()
        ],
        "questionnaires": answers,
        "feedback": feedback,
        "who_read_or_changed_your_answers": trail,
    }


async def delete_answers(
    session: AsyncSession, member: FamilyMember, now: datetime, channel: AccessChannel
) -> int:
    """Delete the member's answers and consents (every meeting) and their feedback comments,
    for real. Returns how many questionnaires were deleted; the audit says only that it was."""
    responses = (
        await session.scalars(
            select(QuestionnaireResponse).where(QuestionnaireResponse.family_member_id == member.id)
        )
    ).all()
    for response in responses:
        questionnaire.audit(session, member, "answers.delete", response, channel, now)
    await session.execute(
        delete(QuestionnaireResponse).where(QuestionnaireResponse.family_member_id == member.id)
    )
    await session.execute(
        update(Feedback)
        .where(Feedback.family_member_id == member.id)
        .values(comment_encrypted=None)
    )
    await session.flush()
    return len(responses)
