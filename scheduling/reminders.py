"""What is due around a meeting, and what each timed job does when its time comes.

`plan_meeting_jobs` (re)arms a meeting's jobs whenever it is convened, fixed, moved or held;
`cancel_meeting_jobs` (in jobs.py) stops them. The handlers only write rows — outbox messages,
state, deletions — in the job's own transaction; the faces send after the commit.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Executable, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from . import audit, conversations, outbox
from .config import Settings
from .jobs import JobContext, Skip, handles, schedule
from .models import (
    AccessChannel,
    AccessToken,
    ActorKind,
    Answer,
    AnswerState,
    AuditEvent,
    Consent,
    FamilyMember,
    Feedback,
    Job,
    JobState,
    Meeting,
    MeetingState,
    Organisation,
    OutboxMessage,
    OutboxState,
    Participant,
    PlanItem,
    Professional,
    QuestionnaireResponse,
    ResponseState,
)
from .recipients import reach
from .slots import OfficeHours, previous_working_day

REMINDER = "meeting.reminder"
FAMILY_REMINDER = "family.reminder"
DEADLINE = "answers.deadline"
SUMMARY = "summary.send"
PLAN_PROMPT = "plan.prompt"
RETENTION = "retention.clean"

REMINDER_HOURS = (24, 1)
RETENTION_LOCAL_TIME = time(3, 0)


def summary_time(meeting: Meeting, organisation: Organisation) -> datetime:
    """The start of office hours on the last working day before the meeting."""
    assert meeting.starts_at is not None
    zone = ZoneInfo(meeting.time_zone)
    hours = OfficeHours.from_digits(
        organisation.working_weekdays,
        organisation.office_hours_start,
        organisation.office_hours_end,
    )
    blocked = tuple((p.starts_on, p.ends_on) for p in organisation.blocked_periods)
    day = previous_working_day(meeting.starts_at.astimezone(zone).date(), hours, blocked)
    return datetime.combine(day, hours.start, zone)


async def plan_meeting_jobs(
    session: AsyncSession, meeting: Meeting, settings: Settings, now: datetime
) -> None:
    """Arm the jobs of the meeting's present state; times already past are left out."""
    key = meeting.id

    async def arm(kind: str, due: datetime | None, name: str, **payload: object) -> None:
        if due is not None and due > now:
            await schedule(
                session,
                kind,
                due,
                payload=dict(payload),
                meeting_id=meeting.id,
                dedupe_key=f"{name}:{key}",
            )

    if meeting.state == MeetingState.COLLECTING:
        await arm(DEADLINE, meeting.answer_deadline, "deadline")
    if meeting.state != MeetingState.SCHEDULED or meeting.starts_at is None:
        return
    organisation = await session.scalar(
        select(Organisation)
        .where(Organisation.id == meeting.organisation_id)
        .options(selectinload(Organisation.blocked_periods))
    )
    assert organisation is not None
    for hours in REMINDER_HOURS:
        await arm(
            REMINDER, meeting.starts_at - timedelta(hours=hours), f"reminder-{hours}h", hours=hours
        )
    summary_at = summary_time(meeting, organisation)
    await arm(SUMMARY, summary_at, "summary")
    await arm(
        FAMILY_REMINDER,
        summary_at - timedelta(days=settings.family_reminder_days),
        "family-reminder",
    )
    await arm(PLAN_PROMPT, meeting.ends_at, "plan-prompt")


async def schedule_retention(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Tonight's clean-up, once per night however often this is called."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    run_at = datetime.combine(local.date(), RETENTION_LOCAL_TIME, zone)
    if run_at <= now:
        run_at = datetime.combine(local.date() + timedelta(days=1), RETENTION_LOCAL_TIME, zone)
    await schedule(session, RETENTION, run_at, dedupe_key=f"retention:{run_at.date()}")


# -- the handlers ------------------------------------------------------------------------------


async def _meeting(session: AsyncSession, job: Job) -> Meeting:
    meeting = await session.scalar(
        select(Meeting)
        .where(Meeting.id == job.meeting_id)
        .options(
            selectinload(Meeting.participants)
            .selectinload(Participant.professional)
            .selectinload(Professional.telegram_user),
            selectinload(Meeting.participants)
            .selectinload(Participant.family_member)
            .selectinload(FamilyMember.telegram_user),
            selectinload(Meeting.convener).selectinload(Professional.telegram_user),
        )
    )
    if meeting is None:
        raise Skip("the meeting no longer exists")
    return meeting


def upcoming(meeting: Meeting, now: datetime) -> None:
    """Skip a job that only makes sense before a fixed meeting begins."""
    if meeting.state != MeetingState.SCHEDULED or meeting.starts_at is None:
        raise Skip(f"the meeting is {meeting.state.value}")
    if meeting.starts_at <= now:
        raise Skip("the meeting had begun")


@handles(REMINDER)
async def remind(session: AsyncSession, job: Job, context: JobContext) -> None:
    meeting = await _meeting(session, job)
    upcoming(meeting, context.now)
    hours = int(job.payload.get("hours", 0))
    for participant in meeting.participants:
        if (target := await reach(session, participant)) is not None:
            await outbox.tell(
                session,
                target[0],
                "meeting_reminder",
                target[1],
                now=context.now,
                meeting_id=meeting.id,
                dedupe_key=f"reminder-{hours}h:{participant.id}:{meeting.ical_sequence}",
                hours=hours,
            )


@handles(FAMILY_REMINDER)
async def remind_family(session: AsyncSession, job: Job, context: JobContext) -> None:
    meeting = await _meeting(session, job)
    upcoming(meeting, context.now)
    submitted = set(
        await session.scalars(
            select(QuestionnaireResponse.family_member_id).where(
                QuestionnaireResponse.meeting_id == meeting.id,
                QuestionnaireResponse.state == ResponseState.SUBMITTED,
            )
        )
    )
    for participant in meeting.participants:
        member = participant.family_member
        if member is None or member.id in submitted:
            continue
        if (target := await reach(session, participant)) is not None:
            await outbox.tell(
                session,
                target[0],
                "family_questions_reminder",
                target[1],
                now=context.now,
                meeting_id=meeting.id,
                dedupe_key=f"family-reminder:{participant.id}",
            )


@handles(DEADLINE)
async def deadline_passed(session: AsyncSession, job: Job, context: JobContext) -> None:
    meeting = await _meeting(session, job)
    if meeting.state != MeetingState.COLLECTING:
        raise Skip(f"the meeting is {meeting.state.value}")
    missing = [p.id for p in meeting.participants if p.answer_state == AnswerState.PENDING]
    convener = meeting.convener.telegram_user
    if convener is not None:
        await outbox.tell(
            session,
            convener.id,
            "answers_deadline_passed",
            convener.locale,
            now=context.now,
            meeting_id=meeting.id,
            dedupe_key=f"deadline:{meeting.id}:{job.due_at.isoformat()}",
            missing=missing,
        )


@handles(SUMMARY)
async def send_summary(session: AsyncSession, job: Job, context: JobContext) -> None:
    meeting = await _meeting(session, job)
    upcoming(meeting, context.now)
    responses = (
        await session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.meeting_id == meeting.id,
                QuestionnaireResponse.state == ResponseState.SUBMITTED,
            )
            .options(selectinload(QuestionnaireResponse.consents))
        )
    ).all()
    if not responses:
        raise Skip("no family answers to share")
    allowed = {c.participant_id for r in responses for c in r.consents if c.granted}
    for participant in meeting.participants:
        if participant.kind.value == "family":
            continue
        if (target := await reach(session, participant)) is None:
            continue
        kind = "summary_ready" if participant.id in allowed else "summary_not_shared"
        await outbox.tell(
            session,
            target[0],
            kind,
            target[1],
            now=context.now,
            meeting_id=meeting.id,
            dedupe_key=f"summary:{participant.id}:{meeting.ical_sequence}",
            participant_id=participant.id,
        )


@handles(PLAN_PROMPT)
async def prompt_for_plan(session: AsyncSession, job: Job, context: JobContext) -> None:
    meeting = await _meeting(session, job)
    if meeting.state not in {MeetingState.SCHEDULED, MeetingState.HELD}:
        raise Skip(f"the meeting is {meeting.state.value}")
    meeting.state = MeetingState.HELD
    convener = meeting.convener.telegram_user
    if convener is not None:
        await outbox.tell(
            session,
            convener.id,
            "plan_prompt",
            convener.locale,
            now=context.now,
            meeting_id=meeting.id,
            dedupe_key=f"plan-prompt:{meeting.id}",
        )
    # Each family member is asked whether they had to tell their story again.
    for seat in meeting.participants:
        if seat.family_member is None or (target := await reach(session, seat)) is None:
            continue
        await outbox.tell(
            session,
            target[0],
            "feedback_ask",
            target[1],
            now=context.now,
            meeting_id=meeting.id,
            dedupe_key=f"feedback:{seat.id}",
        )


@handles(RETENTION)
async def clean_up(session: AsyncSession, job: Job, context: JobContext) -> None:
    """Delete what coordination no longer needs; keep the audit trail of having done it."""
    settings, now = context.settings, context.now

    async def affected(statement: Executable) -> int:
        return (await session.execute(statement)).rowcount or 0

    def ended_before(moment: datetime) -> ColumnElement[bool]:
        cancelled = (Meeting.state == MeetingState.CANCELLED) & (Meeting.cancelled_at < moment)
        # A meeting that never got a time is over when its date window is.
        never_fixed = Meeting.state.in_([MeetingState.DRAFT, MeetingState.COLLECTING]) & (
            Meeting.window_end < moment.date()
        )
        return (Meeting.ends_at < moment) | cancelled | never_fixed

    # A draft nobody sent within a week is abandoned: nothing of it is kept.
    drafts = await affected(
        delete(Meeting).where(
            Meeting.state == MeetingState.DRAFT, Meeting.created_at < now - timedelta(days=7)
        )
    )

    # The family's words go first: answers, consent notes and feedback comments.
    answers_before = now - timedelta(days=settings.retention_answers_days)
    over = select(Meeting.id).where(ended_before(answers_before))
    responses = select(QuestionnaireResponse.id).where(QuestionnaireResponse.meeting_id.in_(over))
    counts = {
        "answers": await affected(delete(Answer).where(Answer.response_id.in_(responses))),
        "consent_notes": await affected(
            update(Consent)
            .where(Consent.response_id.in_(responses), Consent.note_encrypted.is_not(None))
            .values(note_encrypted=None)
        ),
        "feedback_comments": await affected(
            update(Feedback)
            .where(Feedback.meeting_id.in_(over), Feedback.comment_encrypted.is_not(None))
            .values(comment_encrypted=None)
        ),
    }

    # Later the meeting itself: what could tell whose meeting it was, and the plan.
    meetings_before = now - timedelta(days=settings.retention_meetings_days)
    stale = list(
        await session.scalars(
            select(Meeting.id).where(Meeting.anonymised_at.is_(None), ended_before(meetings_before))
        )
    )
    await session.execute(delete(PlanItem).where(PlanItem.meeting_id.in_(stale)))
    counts["meetings_anonymised"] = await affected(
        update(Meeting)
        .where(Meeting.id.in_(stale))
        .values(case_label=None, place=None, online_url=None, cancel_reason=None, anonymised_at=now)
    )
    in_live_meetings = (
        select(Participant.family_member_id)
        .join(Meeting)
        .where(Meeting.anonymised_at.is_(None), Participant.family_member_id.is_not(None))
    )
    counts["family_members_anonymised"] = await affected(
        update(FamilyMember)
        .where(
            FamilyMember.anonymised_at.is_(None),
            FamilyMember.created_at < meetings_before,
            FamilyMember.id.not_in(in_live_meetings),
        )
        .values(label=None, email=None, telegram_user_id=None, anonymised_at=now)
    )

    counts["drafts"] = drafts
    counts["tokens"] = await affected(delete(AccessToken).where(AccessToken.expires_at < now))
    # Sent and settled messages: who got what is not kept beyond a month.
    counts["messages"] = await affected(
        delete(OutboxMessage).where(
            OutboxMessage.state.in_([OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED]),
            OutboxMessage.created_at < now - timedelta(days=30),
        )
    )
    counts["audit_events"] = await audit.purge_expired(session, settings, now)
    # Where someone stopped in a conversation a week ago (what they had typed, sealed).
    counts["conversations"] = await conversations.forget_idle(session, now)
    counts["jobs"] = await affected(
        delete(Job).where(
            Job.state.in_([JobState.DONE, JobState.CANCELLED, JobState.FAILED]),
            Job.finished_at < now - timedelta(days=30),
        )
    )
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_kind=ActorKind.SYSTEM,
            action="retention.clean",
            object_type="database",
            channel=AccessChannel.SYSTEM,
            details=counts,
        )
    )
    await schedule_retention(session, settings, now + timedelta(minutes=1))
