"""The audit log: append-only through the application (only retention deletes, and only rows
past their period), and `kerralla admin audit` for a meeting or a person, never with content."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling import audit, questionnaire, summaries
from scheduling.models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    FamilyMember,
    Professional,
    utcnow,
)
from scheduling.models.operations import AuditLogIsAppendOnly

from . import factories as f
from .harness import settings_for_test
from .test_cli import kerralla, one_line
from .test_questionnaire import family_meeting

Sessions = async_sessionmaker[AsyncSession]
WEB = AccessChannel.WEB
WORDS = "Isä juo liikaa"


def logged(action: str, days_ago: int = 0) -> AuditEvent:
    return AuditEvent(
        occurred_at=utcnow() - timedelta(days=days_ago),
        actor_kind=ActorKind.SYSTEM,
        action=action,
        object_type="database",
        channel=AccessChannel.SYSTEM,
    )


async def test_audit_rows_cannot_be_changed_or_deleted(
    sessions: Sessions, database_url: str
) -> None:
    async with sessions() as session, session.begin():
        session.add_all([logged("kept"), logged("old", days_ago=800)])

    attempts = [
        lambda s, row: setattr(row, "action", "forged"),
        lambda s, row: s.delete(row),
    ]
    for attempt in attempts:
        async with sessions() as session:
            row = await session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "kept"))
            result = attempt(session, row)
            if result is not None:
                await result
            with pytest.raises(AuditLogIsAppendOnly):
                await session.commit()
    table = AuditEvent.__table__
    for statement in [
        sa.update(AuditEvent).values(action="forged"),
        sa.delete(AuditEvent).where(AuditEvent.action == "kept"),
        sa.delete(table),
        sa.update(table).values(actor_id=1),
    ]:
        async with sessions() as session, session.begin():
            with pytest.raises(AuditLogIsAppendOnly):
                await session.execute(statement)
    async with sessions() as session:
        actions = set(await session.scalars(sa.select(AuditEvent.action)))
    assert actions == {"kept", "old"}

    # Retention's one way: only the rows older than RETENTION_AUDIT_DAYS.
    settings = settings_for_test(database_url, "http://127.0.0.1:9", retention_audit_days=730)
    async with sessions() as session, session.begin():
        assert await audit.purge_expired(session, settings, utcnow()) == 1
    async with sessions() as session:
        assert list(await session.scalars(sa.select(AuditEvent.action))) == ["kept"]


async def a_logged_meeting(sessions: Sessions, database_url: str) -> dict[str, int]:
    """A family member answers, lets the teacher read, sends; the teacher reads the summary."""
    settings = settings_for_test(database_url, "http://127.0.0.1:9")
    now = utcnow()
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session)
        response = await questionnaire.response_for(session, meeting, parent)
        first = (await questionnaire.questions(session, response, parent))[0]
        await questionnaire.save_answer(
            session, meeting, parent, response, first, WORDS, settings, now, WEB
        )
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        await questionnaire.set_consent(
            session, meeting, parent, response, teacher.id, True, now, WEB
        )
        await questionnaire.submit(session, meeting, parent, response, now, WEB)
    async with sessions() as session, session.begin():
        shown = await summaries.summary(
            session,
            meeting,
            teacher,
            "fi",
            settings,
            now + timedelta(minutes=1),
            AccessChannel.TELEGRAM,
        )
        assert shown[0].answers[0][1] == WORDS
        # Someone else's meeting, which must not show up in this family member's trail.
        convener = await session.get(Professional, meeting.convener_id)
        other_meeting = await f.meeting(session, convener, meeting.meeting_type)
        other_parent = await f.family_member(session)
        await f.seat(session, other_meeting, other_parent, role="guardian")
        other = await questionnaire.response_for(session, other_meeting, other_parent)
        questionnaire.audit(session, other_parent, "answers.read", other, WEB, now)
    return {
        "meeting": meeting.id,
        "member": parent.id,
        "teacher": teacher.professional_id,
        "response": response.id,
        "other_member": other_parent.id,
    }


async def test_a_meeting_and_a_person(sessions: Sessions, database_url: str) -> None:
    ids = await a_logged_meeting(sessions, database_url)
    async with sessions() as session:
        for_meeting = await audit.events(session, await audit.meeting(session, ids["meeting"]))
        member = await audit.person(session, f"family:{ids['member']}")
        for_member = await audit.events(session, member)
        teacher = await audit.person(session, f"professional:{ids['teacher']}")
        for_teacher = await audit.events(session, teacher)
    assert [e.action for e in for_meeting] == [
        "answers.write",
        "consent.change",
        "answers.submit",
        "answers.read",
    ]
    # The family member's own acts, and who read their answers.
    assert [(e.actor_kind, e.action) for e in for_member] == [
        (ActorKind.FAMILY_MEMBER, "answers.write"),
        (ActorKind.FAMILY_MEMBER, "consent.change"),
        (ActorKind.FAMILY_MEMBER, "answers.submit"),
        (ActorKind.PROFESSIONAL, "answers.read"),
    ]
    assert [(e.actor_id, e.action, e.channel) for e in for_teacher] == [
        (ids["teacher"], "answers.read", AccessChannel.TELEGRAM)
    ]
    lines = audit.lines(
        for_member, member, settings_for_test(database_url, "http://127.0.0.1:9").zone
    )
    assert lines[0] == f"Audit log for family member {ids['member']}: 4 entries, oldest first."
    assert lines[1].split() == ["when", "who", "action", "channel", "what"]
    assert f"professional {ids['teacher']}" in lines[-1] and "answers.read" in lines[-1]
    assert f"questionnaire response {ids['response']}, meeting {ids['meeting']}" in lines[-1]


async def test_the_command(sessions: Sessions, database_url: str, tmp_path: Path) -> None:
    ids = await a_logged_meeting(sessions, database_url)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return kerralla("admin", "audit", *args, cwd=tmp_path, DATABASE_URL=database_url)

    shown = run("--meeting", str(ids["meeting"]))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"Audit log for meeting {ids['meeting']}: 4 entries, oldest first."
    rows = [line.split() for line in lines[2:]]
    assert [r[3:6] for r in rows] == [
        ["member", str(ids["member"]), "answers.write"],
        ["member", str(ids["member"]), "consent.change"],
        ["member", str(ids["member"]), "answers.submit"],
        [str(ids["teacher"]), "answers.read", "telegram"],
    ]
    async with sessions() as session:
        case_label = await session.scalar(
            sa.text("SELECT case_label FROM meetings WHERE id = :id"), {"id": ids["meeting"]}
        )
    assert case_label and case_label not in shown.stdout
    assert WORDS not in shown.stdout

    # The reading itself is logged; the family member's trail leaves the other family out.
    mine = run("--person", f"family:{ids['member']}")
    assert mine.returncode == 0, mine.stderr
    assert "4 entries" in mine.stdout and WORDS not in mine.stdout
    assert f"questionnaire response {ids['response']}," in mine.stdout
    async with sessions() as session:
        reads = (
            await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "audit.read"))
        ).all()
    assert [(r.actor_kind, r.object_type, r.channel) for r in reads] == [
        (ActorKind.ADMINISTRATOR, "meeting", AccessChannel.CLI),
        (ActorKind.ADMINISTRATOR, "family_member", AccessChannel.CLI),
    ]

    # A bare id that is both a professional and a family member is asked to be named.
    async with sessions() as session:
        both = await session.get(FamilyMember, ids["teacher"]) is not None
        nobody = 1 + max(
            await session.scalar(sa.select(sa.func.max(Professional.id))),
            await session.scalar(sa.select(sa.func.max(FamilyMember.id))),
        )
    if both:
        assert one_line(run("--person", str(ids["teacher"]))) == (
            f"kerralla: {ids['teacher']} is both a professional and a family member: "
            f"say professional:{ids['teacher']} or family:{ids['teacher']}"
        )
    teacher = run("--person", f"professional:{ids['teacher']}")
    assert teacher.returncode == 0 and ": 1 entry, oldest first." in teacher.stdout
    assert one_line(run("--person", str(nobody))) == (
        f"kerralla: there is no professional or family member {nobody}"
    )
    assert one_line(run("--person", "x:1")).startswith("kerralla: 'x:1' is not a person")
    no_meeting = run("--meeting", "999999")
    assert one_line(no_meeting) == (
        "kerralla: there is no meeting 999999 and nothing logged about one"
    )


async def test_nothing_logged_yet(sessions: Sessions, tmp_path: Path, database_url: str) -> None:
    async with sessions() as session, session.begin():
        org = await f.organisation(session)
        quiet = await f.professional(session, org)
    shown = kerralla(
        "admin",
        "audit",
        "--person",
        f"professional:{quiet.id}",
        cwd=tmp_path,
        DATABASE_URL=database_url,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"Nothing is logged about professional {quiet.id}."
