"""The family's answers before the meeting, and whom they let read them.

One response per family member and meeting, the same record from Telegram and the web page.
Answers and consent notes are sealed with DATA_KEY; every read and change is audited (who,
what, through which channel), never with the content. Nobody may read the answers unless the
family member chose them, and the family can change their choice at any time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .config import Settings
from .crypto import seal, unseal
from .errors import InvalidInput
from .i18n import N_, PLAIN_FINNISH, Nn_
from .models import (
    AccessChannel,
    ActorKind,
    Answer,
    AuditEvent,
    Consent,
    FamilyMember,
    FamilyRole,
    Meeting,
    MeetingState,
    MeetingType,
    Organisation,
    Participant,
    Question,
    QuestionKind,
    QuestionnaireResponse,
    ResponseState,
)
from .reminders import summary_time

MAX_ANSWER = 4000
PLAIN = PLAIN_FINNISH


@dataclass(frozen=True)
class Asked:
    """A question as one family member reads it, in their language (plain Finnish if chosen)."""

    id: int
    key: str
    kind: QuestionKind
    text: str
    help: str | None
    options: list[tuple[str, str]]
    for_child: bool
    lang: str  # the language the text is in (fi for plain Finnish too)


def in_language(texts: dict[str, Any], locale: str, plain: bool) -> str:
    if plain and locale == "fi" and texts.get(PLAIN):
        return str(texts[PLAIN])
    return str(texts.get(locale) or texts.get("fi") or "")


def asked(question: Question, locale: str, plain: bool) -> Asked:
    help_texts = question.texts.get("help")
    return Asked(
        id=question.id,
        key=question.key,
        kind=question.kind,
        text=in_language(question.texts, locale, plain),
        help=in_language(help_texts, locale, plain) if isinstance(help_texts, dict) else None,
        options=[
            (o["key"], in_language(o["texts"], locale, plain)) for o in question.options or []
        ],
        for_child=question.for_child,
        lang=locale if question.texts.get(locale) else "fi",  # as in_language falls back
    )


def audit(
    session: AsyncSession,
    member: FamilyMember | None,
    action: str,
    response: QuestionnaireResponse,
    channel: AccessChannel,
    now: datetime,
    *,
    reader: Participant | None = None,
) -> None:
    """Who read or changed the answers, when and how — never what they say."""
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_kind=ActorKind.PROFESSIONAL if reader is not None else ActorKind.FAMILY_MEMBER,
            actor_id=(
                reader.professional_id if reader is not None else (member.id if member else None)
            ),
            action=action,
            object_type="questionnaire_response",
            object_id=response.id,
            meeting_id=response.meeting_id,
            channel=channel,
        )
    )


async def response_for(
    session: AsyncSession, meeting: Meeting, member: FamilyMember
) -> QuestionnaireResponse | None:
    """The member's response for the meeting, made on first use; None if the type asks nothing."""
    response = await session.scalar(
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.meeting_id == meeting.id,
            QuestionnaireResponse.family_member_id == member.id,
        )
        .options(
            selectinload(QuestionnaireResponse.answers),
            selectinload(QuestionnaireResponse.consents),
        )
    )
    if response is not None:
        return response
    kind = await session.get(MeetingType, meeting.meeting_type_id)
    if kind is None or kind.question_set_id is None:
        return None
    response = QuestionnaireResponse(
        meeting_id=meeting.id,
        family_member_id=member.id,
        question_set_id=kind.question_set_id,
        answers=[],
        consents=[],
    )
    session.add(response)
    await session.flush()
    return response


async def questions(
    session: AsyncSession,
    response: QuestionnaireResponse,
    member: FamilyMember,
    locale: str | None = None,
    plain: bool | None = None,
) -> list[Asked]:
    """The questions for this member, in `locale` (plain Finnish if `plain`; by default the
    member's own choice): a child or young person is asked the child's questions, the adults
    theirs — never each other's."""
    rows = (
        await session.scalars(
            select(Question)
            .where(Question.question_set_id == response.question_set_id)
            .order_by(Question.position)
        )
    ).all()
    child = member.role == FamilyRole.CHILD
    locale = locale or member.locale
    plain = member.plain_language if plain is None else plain
    return [asked(q, locale, plain) for q in rows if q.for_child == child]


async def deadline(session: AsyncSession, meeting: Meeting) -> datetime | None:
    """Until when the family can answer and change: the summary's time, once the meeting has
    a time; before that, no limit."""
    if meeting.state != MeetingState.SCHEDULED or meeting.starts_at is None:
        return None
    organisation = await session.scalar(
        select(Organisation)
        .where(Organisation.id == meeting.organisation_id)
        .options(selectinload(Organisation.blocked_periods))
    )
    assert organisation is not None
    return summary_time(meeting, organisation)


async def check_open(session: AsyncSession, meeting: Meeting, now: datetime) -> None:
    if meeting.state in {MeetingState.CANCELLED, MeetingState.HELD}:
        raise InvalidInput(N_("The meeting is over, so the answers can no longer be changed."))
    until = await deadline(session, meeting)
    if until is not None and now >= until:
        raise InvalidInput(
            N_(
                "The answers can no longer be changed: they have already been shared before the "
                "meeting."
            )
        )


def _value(question: Asked, value: str | list[str] | None) -> str | list[str] | None:
    if value is None:
        return None
    keys = {key for key, _ in question.options}
    if question.kind == QuestionKind.FREE_TEXT:
        text = value if isinstance(value, str) else ""
        text = text.replace("\r\n", "\n").strip()
        if len(text) > MAX_ANSWER:
            raise InvalidInput(  # how much is too much: the length, then the limit
                Nn_(
                    "Your answer is {n} character long; at most {limit} characters fit.",
                    "Your answer is {n} characters long; at most {limit} characters fit.",
                ),
                n=len(text),
                limit=MAX_ANSWER,
            )
        return text or None
    chosen = [value] if isinstance(value, str) else list(value)
    if not set(chosen) <= keys or (question.kind == QuestionKind.ONE_CHOICE and len(chosen) > 1):
        raise InvalidInput(N_("That choice is not one of the options."))
    return chosen or None


async def save_answer(
    session: AsyncSession,
    meeting: Meeting,
    member: FamilyMember,
    response: QuestionnaireResponse,
    question: Asked,
    value: str | list[str] | None,
    settings: Settings,
    now: datetime,
    channel: AccessChannel,
) -> None:
    """Keep one answer (None: skipped), sealed; changeable until the deadline."""
    await check_open(session, meeting, now)
    checked = _value(question, value)
    sealed = (
        seal(settings, json.dumps(checked, ensure_ascii=False)) if checked is not None else None
    )
    answer = next((a for a in response.answers if a.question_id == question.id), None)
    if answer is None:
        response.answers.append(
            Answer(
                response_id=response.id,
                question_id=question.id,
                value_encrypted=sealed,
                locale=question.lang,
            )
        )
    else:
        before = (
            json.loads(unseal(settings, answer.value_encrypted)) if answer.value_encrypted else None
        )
        if before != checked:  # kept as it was: still in the language it was written in
            answer.locale = question.lang
        answer.value_encrypted = sealed
    audit(session, member, "answers.write", response, channel, now)
    await session.flush()


def as_shown(question: Asked, value: str | list[str] | None) -> str | None:
    """An answer as a reader sees it: chosen options by their labels, text as written."""
    labels = dict(question.options)
    if isinstance(value, list):
        return ", ".join(labels.get(v, v) for v in value)
    return labels.get(value, value) if value is not None else None


def written_in(response: QuestionnaireResponse) -> dict[int, str | None]:
    """The language each answer was written in, by question id."""
    return {a.question_id: a.locale for a in response.answers}


def answer_language(
    question: Asked, written_in: dict[int, str | None], member: FamilyMember
) -> str:
    """The language an answer is shown in: words in the language they were written in,
    chosen options in the reader's (the labels of `question`)."""
    if question.kind != QuestionKind.FREE_TEXT:
        return question.lang
    return written_in.get(question.id) or member.locale


def read_answers(
    response: QuestionnaireResponse, settings: Settings
) -> dict[int, str | list[str] | None]:
    """The answers by question id (None where skipped). Callers audit the read."""
    return {
        a.question_id: json.loads(unseal(settings, a.value_encrypted))
        if a.value_encrypted
        else None
        for a in response.answers
    }


async def set_consent(
    session: AsyncSession,
    meeting: Meeting,
    member: FamilyMember,
    response: QuestionnaireResponse,
    participant_id: int,
    granted: bool,
    now: datetime,
    channel: AccessChannel,
) -> None:
    """Let one professional in the circle read the answers, or not (withdrawing works at once)."""
    seat = next((p for p in meeting.participants if p.id == participant_id), None)
    if seat is None or seat.professional_id is None:
        raise InvalidInput(N_("This button is no longer valid."))
    consent = next((c for c in response.consents if c.participant_id == participant_id), None)
    if consent is None:
        consent = Consent(response_id=response.id, participant_id=participant_id, decided_at=now)
        response.consents.append(consent)
    consent.granted = granted
    consent.decided_at = now
    consent.withdrawn_at = None if granted else (now if consent.id else None)
    audit(session, member, "consent.change", response, channel, now)
    await session.flush()


def readers(response: QuestionnaireResponse) -> set[int]:
    """The seats the family member lets read the answers."""
    return {c.participant_id for c in response.consents if c.granted}


async def submit(
    session: AsyncSession,
    meeting: Meeting,
    member: FamilyMember,
    response: QuestionnaireResponse,
    now: datetime,
    channel: AccessChannel,
) -> bool:
    """The answers are ready to share; False if they were already submitted (nothing changes)."""
    await check_open(session, meeting, now)
    if response.state == ResponseState.SUBMITTED:
        return False
    response.state = ResponseState.SUBMITTED
    response.submitted_at = now
    audit(session, member, "answers.submit", response, channel, now)
    await session.flush()
    return True
