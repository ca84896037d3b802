"""Key rotation: everything sealed under an old key is re-encrypted under the new one while the
service runs, in small batches, safely again and after an interruption; afterwards the new key
alone reads every answer and the old key opens nothing."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from scheduling import questionnaire
from scheduling.config import Settings
from scheduling.crypto import seal, unseal
from scheduling.key_rotation import report, rotate, sealed_columns
from scheduling.models import (
    AccessChannel,
    AuditEvent,
    Feedback,
    FeedbackAnswer,
    PlanItem,
    Professional,
    QuestionnaireResponse,
    utcnow,
)

from .harness import settings_for_test
from .test_cli import kerralla
from .test_questionnaire import family_meeting

Sessions = async_sessionmaker[AsyncSession]
K0, K1, K2 = (Fernet.generate_key().decode() for _ in range(3))
WORDS = "Äiti on väsynyt; koulu sujuu 😊"


def keyed(database_url: str, data_key: str) -> Settings:
    return settings_for_test(database_url, "http://127.0.0.1:9", data_key=data_key)


async def sealed_under_k1(sessions: Sessions, database_url: str) -> tuple[int, dict[int, object]]:
    """A family's answers through the product's own path, and one value in every other sealed
    column, all under K1. The response's id and the answers as read back."""
    old = keyed(database_url, K1)
    now = utcnow()
    async with sessions() as session, session.begin():
        meeting, parent = await family_meeting(session)
        response = await questionnaire.response_for(session, meeting, parent)
        for number, asked in enumerate(await questionnaire.questions(session, response, parent)):
            value: str | list[str] | None
            if asked.kind.value == "free_text":
                value = f"{WORDS} {number}"
            else:
                value = [asked.options[0][0]]
            await questionnaire.save_answer(
                session, meeting, parent, response, asked, value, old, now, AccessChannel.WEB
            )
        teacher = next(p for p in meeting.participants if p.role == "teacher")
        await questionnaire.set_consent(
            session, meeting, parent, response, teacher.id, True, now, AccessChannel.WEB
        )
        response.consents[0].note_encrypted = seal(old, "vain opettaja")
        session.add(
            PlanItem(
                meeting_id=meeting.id,
                position=1,
                what_encrypted=seal(old, "tukiopetus"),
                who_encrypted=seal(old, "opettaja"),
            )
        )
        session.add(
            Feedback(
                meeting_id=meeting.id,
                family_member_id=parent.id,
                answer=FeedbackAnswer.NO,
                comment_encrypted=seal(old, "hyvä"),
            )
        )
        convener = await session.get(Professional, meeting.convener_id)
        convener.caldav_password_encrypted = seal(old, "salasana")
        await session.flush()
        return response.id, questionnaire.read_answers(response, old)


async def stored_values(sessions: Sessions) -> list[bytes]:
    values: list[bytes] = []
    async with sessions() as session:
        for _table, columns in sealed_columns():
            for row in (await session.execute(sa.select(*columns))).all():
                values += [v for v in row if v is not None]
    return values


async def rows_under(sessions: Sessions, key: str) -> int:
    """Rows whose every sealed value is under `key`."""
    count = 0
    async with sessions() as session:
        for _table, columns in sealed_columns():
            for row in (await session.execute(sa.select(*columns))).all():
                values = [v for v in row if v is not None]
                count += bool(values) and all(_under(key, v) for v in values)
    return count


async def read_back(sessions: Sessions, settings: Settings, response_id: int) -> dict[int, object]:
    async with sessions() as session:
        response = await session.get(
            QuestionnaireResponse,
            response_id,
            options=[selectinload(QuestionnaireResponse.answers)],
        )
        return questionnaire.read_answers(response, settings)


def test_every_sealed_column_is_found() -> None:
    found = {f"{t.name}.{c.name}" for t, columns in sealed_columns() for c in columns}
    assert found >= {
        "answers.value_encrypted",
        "consents.note_encrypted",
        "plan_items.what_encrypted",
        "plan_items.who_encrypted",
        "feedback.comment_encrypted",
        "professionals.caldav_password_encrypted",
    }


async def test_after_rotation_the_new_key_alone_reads_everything(
    sessions: Sessions, database_url: str
) -> None:
    response_id, answers = await sealed_under_k1(sessions, database_url)
    assert len(answers) == 9 and f"{WORDS} 0" in answers.values()

    # While the service runs with DATA_KEY=K2,K1, the operator rotates, three rows at a time.
    ring = keyed(database_url, f"{K2},{K1}")
    tallies = {t.table: t for t in await rotate(sessions, ring, utcnow(), batch_size=3)}
    assert {name: t.rotated for name, t in tallies.items() if t.rotated} == {
        "answers": 9,
        "consents": 1,
        "plan_items": 1,
        "feedback": 1,
        "professionals": 1,
    }
    assert all(t.unreadable == 0 for t in tallies.values())
    lines, complete = report(list(tallies.values()))
    assert complete
    assert "answers 9 re-encrypted, 0 already under the new key" in [
        " ".join(x.split()) for x in lines
    ]
    assert any("remove the old key(s) from DATA_KEY" in line for line in lines)

    # Then DATA_KEY=K2 only: every answer reads through the product's own path ...
    new = keyed(database_url, K2)
    assert await read_back(sessions, new, response_id) == answers
    async with sessions() as session:
        professional = await session.scalar(
            sa.select(Professional).where(Professional.caldav_password_encrypted.is_not(None))
        )
        assert unseal(new, professional.caldav_password_encrypted) == "salasana"
        plan = await session.scalar(sa.select(PlanItem))
        assert unseal(new, plan.what_encrypted) == "tukiopetus"
    # ... and the old key opens none of the stored bytes.
    values = await stored_values(sessions)
    assert len(values) == 14
    for value in values:
        with pytest.raises(InvalidToken):
            Fernet(K1).decrypt(value)
        Fernet(K2).decrypt(value)

    # Running again changes nothing and says so.
    again = await rotate(sessions, ring, utcnow(), batch_size=3)
    assert [(t.table, t.rotated, t.current) for t in again] == [
        (t.table, 0, t.rotated) for t in tallies.values()
    ]
    assert await stored_values(sessions) == values
    async with sessions() as session:
        logged = (
            await session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "data_key.rotate")
            )
        ).all()
    assert len(logged) == 2 and logged[0].details["answers"] == {"rotated": 9, "unreadable": 0}


async def test_an_interrupted_rotation_finishes_when_run_again(
    sessions: Sessions, database_url: str
) -> None:
    response_id, answers = await sealed_under_k1(sessions, database_url)
    ring = keyed(database_url, f"{K2},{K1}")
    # Stopped (as by Ctrl-C) after its first batches: what was committed stays done.
    task = asyncio.create_task(rotate(sessions, ring, utcnow(), batch_size=2, pause=0.2))
    for _ in range(500):
        if any(_under(K2, v) for v in await stored_values(sessions)):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    done = await rows_under(sessions, K2)
    assert 1 <= done < 13  # 13 rows: a plan item holds two values

    finished = await rotate(sessions, ring, utcnow(), batch_size=2, pause=0)
    assert sum(t.rotated for t in finished) == 13 - done
    assert sum(t.current for t in finished) == done
    assert all(_under(K2, v) for v in await stored_values(sessions))
    assert await read_back(sessions, keyed(database_url, K2), response_id) == answers


async def test_a_value_no_key_opens_is_left_alone_and_reported(
    sessions: Sessions, database_url: str
) -> None:
    await sealed_under_k1(sessions, database_url)
    async with sessions() as session, session.begin():
        plan = await session.scalar(sa.select(PlanItem))
        plan.who_encrypted = seal(keyed(database_url, K0), "kadonnut avain")
        lost = plan.who_encrypted
    tallies = await rotate(sessions, keyed(database_url, f"{K2},{K1}"), utcnow())
    plan_items = next(t for t in tallies if t.table == "plan_items")
    assert (plan_items.rotated, plan_items.unreadable) == (1, 1)
    lines, complete = report(tallies)
    assert not complete
    assert (
        "plan_items 1 re-encrypted, 0 already under the new key, 1 NOT READABLE with any key in "
        "DATA_KEY" in [" ".join(x.split()) for x in lines]
    )
    assert any("Do NOT remove any key yet" in line for line in lines)
    async with sessions() as session:
        plan = await session.scalar(sa.select(PlanItem))
        assert plan.who_encrypted == lost  # untouched
        assert _under(K2, plan.what_encrypted)


async def test_the_command(sessions: Sessions, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response_id, answers = await sealed_under_k1(sessions, database_url)
    done = kerralla(
        "admin",
        "rotate-key",
        "--batch",
        "4",
        cwd=tmp_path,
        DATABASE_URL=database_url,
        DATA_KEY=f"{K2},{K1}",
    )
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert {
        "professionals 1 re-encrypted, 0 already under the new key",
        "answers 9 re-encrypted, 0 already under the new key",
        "consents 1 re-encrypted, 0 already under the new key",
        "feedback 1 re-encrypted, 0 already under the new key",
        "plan_items 1 re-encrypted, 0 already under the new key",
    } <= set(lines)
    assert "remove the old key(s) from DATA_KEY" in done.stdout
    assert WORDS not in done.stdout + done.stderr
    assert await read_back(sessions, keyed(database_url, K2), response_id) == answers

    refused = kerralla("admin", "rotate-key", cwd=tmp_path, DATABASE_URL=database_url, DATA_KEY=K0)
    assert refused.returncode == 2
    assert "14 NOT READABLE" not in refused.stdout  # counted per table, in rows
    assert (
        "answers 0 re-encrypted, 0 already under the new key, 9 NOT READABLE with any key in "
        "DATA_KEY" in [" ".join(line.split()) for line in refused.stdout.splitlines()]
    )
    assert refused.stderr.strip() == (
        "kerralla: some sealed values could not be read with any key in DATA_KEY"
    )


def _under(key: str, value: bytes) -> bool:
    try:
        Fernet(key).extract_timestamp(value)
    except InvalidToken:
        return False
    return True
