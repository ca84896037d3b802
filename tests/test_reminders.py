"""What comes due around a meeting: reminders, the summary, the family's reminder, the plan
prompt, the answer deadline and the nightly clean-up — armed, moved, cancelled, run once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling.config import load_settings
from scheduling.jobs import JobWorker, cancel_meeting_jobs
from scheduling.models import (
    AccessToken,
    Answer,
    AnswerState,
    AuditEvent,
    FamilyMember,
    Job,
    JobState,
    Meeting,
    MeetingState,
    OutboxMessage,
    Professional,
    Question,
    QuestionKind,
    QuestionnaireResponse,
    QuestionSet,
    TelegramUser,
    TokenPurpose,
)
from scheduling.reminders import plan_meeting_jobs

from . import factories as f

Sessions = async_sessionmaker[AsyncSession]
HELSINKI = ZoneInfo("Europe/Helsinki")
SETTINGS = load_settings(_env_file=None)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


async def a_meeting(session: AsyncSession, starts: datetime, **values: object) -> Meeting:
    """A fixed meeting with a convener, a Swedish-speaking teacher and a guardian on Telegram."""
    org = await f.organisation(session)
    convener = await f.professional(session, org, telegram_id=7001)
    teacher = await f.professional(session, org, telegram_id=7002)
    session.add(TelegramUser(id=7003, locale="fi"))
    guardian = await f.family_member(session, telegram_user_id=7003, locale="sv")
    await session.flush()
    (await session.get(TelegramUser, 7002)).locale = "sv"
    meeting = await f.meeting(
        session, convener, await f.meeting_type(session), starts_at=starts, **values
    )
    for who in (convener, teacher, guardian):
        await f.seat(session, meeting, who)
    return meeting


async def due_jobs(sessions: Sessions) -> dict[str, tuple[datetime, JobState]]:
    async with sessions() as session:
        jobs = (await session.scalars(select(Job).order_by(Job.id))).all()
    return {job.dedupe_key.split(":")[0]: (job.due_at, job.state) for job in jobs}


async def messages(sessions: Sessions) -> list[tuple[int, str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [(row.telegram_chat_id, row.kind, row.locale) for row in rows]


async def test_a_fixed_meeting_arms_its_jobs(sessions: Sessions) -> None:
    # Monday 22 June 2026 at 10.00; Friday 19.6. is Midsummer Eve, so the summary goes on
    # Thursday at the start of office hours.
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
    jobs = await due_jobs(sessions)
    assert jobs == {
        "reminder-24h": (starts - timedelta(hours=24), JobState.PENDING),
        "reminder-1h": (starts - timedelta(hours=1), JobState.PENDING),
        "summary": (local(2026, 6, 18, 8, 0), JobState.PENDING),
        "family-reminder": (local(2026, 6, 16, 8, 0), JobState.PENDING),
        "plan-prompt": (starts + timedelta(minutes=90), JobState.PENDING),
    }


async def test_times_already_past_are_not_armed(sessions: Sessions) -> None:
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 21, 12, 0))
    assert set(await due_jobs(sessions)) == {"reminder-1h", "plan-prompt"}


async def test_reminders_go_to_everyone_in_their_language_once(sessions: Sessions) -> None:
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
    worker = JobWorker(sessions, SETTINGS, clock=lambda: starts - timedelta(hours=23))
    await worker.run_once()
    await worker.run_once()
    assert await messages(sessions) == [
        # Two days before the summary, the guardian who has not answered the questions:
        (7003, "family_questions_reminder", "sv"),
        (7001, "meeting_reminder", "fi"),
        (7002, "meeting_reminder", "sv"),
        (7003, "meeting_reminder", "sv"),
    ]


async def test_what_a_worker_queues_is_due_at_the_workers_time(sessions: Sessions) -> None:
    # A worker running as if it were another time (the demo, a test, a worker catching up)
    # queues messages due and stamped at that time, not at the wall clock's: a sender on the
    # same clock sends them, and retention counts from it.
    starts = local(2031, 6, 23, 10, 0)  # years after any wall clock this suite runs on
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2031, 6, 1, 9, 0))
    at = starts - timedelta(hours=23)
    await JobWorker(sessions, SETTINGS, clock=lambda: at).run_once()
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert len(rows) == 4  # the three reminders and the guardian's questions reminder
    assert {(row.next_attempt_at, row.created_at) for row in rows} == {(at, at)}


async def test_moving_the_meeting_moves_its_reminders(sessions: Sessions) -> None:
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
    await JobWorker(sessions, SETTINGS, clock=lambda: starts - timedelta(hours=23)).run_once()
    moved = local(2026, 6, 24, 13, 0)
    async with sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting.id)
        meeting.starts_at, meeting.ends_at = moved, moved + timedelta(minutes=90)
        meeting.ical_sequence += 1
        await plan_meeting_jobs(session, meeting, SETTINGS, now=starts - timedelta(hours=22))
    jobs = await due_jobs(sessions)
    assert jobs["reminder-24h"] == (moved - timedelta(hours=24), JobState.PENDING)
    assert jobs["plan-prompt"][0] == moved + timedelta(minutes=90)
    await JobWorker(sessions, SETTINGS, clock=lambda: moved - timedelta(hours=23)).run_once()
    # Reminded again, for the new time.
    assert [m[1] for m in await messages(sessions)].count("meeting_reminder") == 6


async def test_after_downtime_late_reminders_are_dropped_and_the_rest_runs_once(
    sessions: Sessions,
) -> None:
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
    # The service was down from before the summary until after the meeting.
    after = starts + timedelta(hours=3)
    worker = JobWorker(sessions, SETTINGS, clock=lambda: after)
    assert await worker.run_once() == 5
    assert await worker.run_once() == 0
    async with sessions() as session:
        jobs = {j.dedupe_key.split(":")[0]: j for j in (await session.scalars(select(Job))).all()}
        held = await session.get(Meeting, meeting.id)
    assert {key: job.state for key, job in jobs.items()} == dict.fromkeys(jobs, JobState.DONE)
    assert jobs["reminder-24h"].note == jobs["reminder-1h"].note == "the meeting had begun"
    assert jobs["summary"].note == jobs["family-reminder"].note == "the meeting had begun"
    assert held.state == MeetingState.HELD
    # After the meeting: the convener is asked for the plan, the family for feedback.
    assert await messages(sessions) == [(7001, "plan_prompt", "fi"), (7003, "feedback_ask", "sv")]


async def test_cancelling_stops_every_job(sessions: Sessions) -> None:
    starts = local(2026, 6, 22, 10, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(session, starts)
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
        meeting.state = MeetingState.CANCELLED
        assert await cancel_meeting_jobs(session, meeting.id, local(2026, 6, 1, 9, 5)) == 5
    assert await JobWorker(sessions, SETTINGS, clock=lambda: starts).run_once() == 0
    assert await messages(sessions) == []


async def test_the_answer_deadline_tells_the_convener_who_is_missing(sessions: Sessions) -> None:
    deadline = local(2026, 6, 10, 16, 0)
    async with sessions() as session, session.begin():
        meeting = await a_meeting(
            session, None, state=MeetingState.COLLECTING, answer_deadline=deadline
        )
        await session.refresh(meeting, ["participants"])
        meeting.participants[0].answer_state = AnswerState.ANSWERED
        missing = [p.id for p in meeting.participants[1:]]
        await plan_meeting_jobs(session, meeting, SETTINGS, now=local(2026, 6, 1, 9, 0))
    assert set(await due_jobs(sessions)) == {"deadline"}
    await JobWorker(sessions, SETTINGS, clock=lambda: deadline).run_once()
    async with sessions() as session:
        told = (await session.scalars(select(OutboxMessage))).one()
    assert (told.telegram_chat_id, told.kind, told.payload) == (
        7001,
        "answers_deadline_passed",
        {"missing": missing},
    )


async def test_retention_deletes_what_is_no_longer_needed_and_audits_it(
    sessions: Sessions,
) -> None:
    now = datetime(2027, 9, 1, 0, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        old = await a_meeting(session, local(2026, 6, 22, 10, 0))  # over a year ago
        recent_start = now - timedelta(days=10)
        convener = await session.get(Professional, old.convener_id)
        recent = await f.meeting(
            session, convener, await f.meeting_type(session), starts_at=recent_start
        )
        questions = QuestionSet(
            key="qs",
            names={"fi": "K"},
            questions=[
                Question(key="q1", position=1, kind=QuestionKind.FREE_TEXT, texts={"fi": "?"})
            ],
        )
        session.add(questions)
        guardian = await f.family_member(session)
        await session.flush()
        for held in (old, recent):
            response = QuestionnaireResponse(
                meeting_id=held.id, family_member_id=guardian.id, question_set_id=questions.id
            )
            session.add(response)
            await session.flush()
            session.add(
                Answer(
                    response_id=response.id,
                    question_id=questions.questions[0].id,
                    value_encrypted=b"sealed",
                )
            )
        session.add(
            AccessToken(
                token_hash="a" * 64,
                purpose=TokenPurpose.FAMILY_FORM,
                expires_at=now - timedelta(days=1),
            )
        )
        session.add(
            AuditEvent(
                occurred_at=now - timedelta(days=800),
                actor_kind="system",
                action="old",
                object_type="x",
                channel="system",
            )
        )
        session.add(Job(kind="retention.clean", due_at=now, dedupe_key="retention:today"))
        # A draft abandoned last year, and a meeting whose answers never led to a time.
        abandoned = await f.meeting(
            session, convener, await f.meeting_type(session), state=MeetingState.DRAFT
        )
        abandoned.created_at = now - timedelta(days=8)
        unfixed = await f.meeting(
            session,
            convener,
            await f.meeting_type(session),
            state=MeetingState.COLLECTING,
            window_start=date(2026, 6, 1),
            window_end=date(2026, 6, 30),
        )
        # Who was told what, long ago.
        session.add(
            OutboxMessage(
                channel="telegram",
                telegram_chat_id=7001,
                kind="tally",
                locale="fi",
                state="sent",
                created_at=now - timedelta(days=40),
                next_attempt_at=now - timedelta(days=40),
            )
        )
    await JobWorker(sessions, SETTINGS, clock=lambda: now).run_once()
    async with sessions() as session:
        answers = (await session.scalars(select(Answer))).all()
        old_row = await session.get(Meeting, old.id)
        recent_row = await session.get(Meeting, recent.id)
        audit = (await session.scalars(select(AuditEvent))).all()
        tokens = (await session.scalars(select(AccessToken))).all()
        next_run = (await session.scalars(select(Job).where(Job.state == JobState.PENDING))).one()
        member = await session.get(FamilyMember, guardian.id)
    assert len(answers) == 1  # only the recent meeting's answer is left
    assert old_row.case_label is None and old_row.anonymised_at == now
    assert recent_row.case_label is not None
    assert tokens == []
    assert [a.action for a in audit] == ["retention.clean"]
    assert audit[0].details["answers"] == 1 and audit[0].details["meetings_anonymised"] == 2
    assert audit[0].details["drafts"] == 1 and audit[0].details["messages"] == 1
    assert next_run.due_at == datetime(2027, 9, 2, 0, 0, tzinfo=UTC)  # 3.00 in Helsinki
    assert member.anonymised_at is None  # still in a live meeting
    async with sessions() as session:
        assert await session.get(Meeting, abandoned.id) is None
        assert (await session.get(Meeting, unfixed.id)).case_label is None
        assert (await session.scalars(select(OutboxMessage))).all() == []
