"""GET /healthz: the database, the workers' heartbeats and the backlogs, and 503 when any of
them says something needs attention."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.app import build_services
from bot.services import Services
from bot.web.app import build_web_app
from scheduling import jobs, outbox
from scheduling.heartbeats import beat
from scheduling.jobs import JobWorker
from scheduling.models import Job, OutboxMessage, OutboxState, utcnow

from .harness import BotHarness, settings_for_test


async def health(services: Services) -> tuple[int, dict[str, Any]]:
    async with TestClient(TestServer(build_web_app(services))) as client:
        response = await client.get("/healthz")
        assert response.content_type == "application/json"
        return response.status, await response.json()


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    services = build_services(settings_for_test(database_url, "http://127.0.0.1:9"))
    yield services
    await services.engine.dispose()


async def all_beating(services: Services, ago: timedelta = timedelta(0)) -> None:
    for worker in ("delivery", "jobs"):
        await beat(services.sessions, worker, utcnow() - ago, process="test-host:1:abc")


async def test_running_workers_and_empty_backlogs_are_healthy(bot: BotHarness) -> None:
    # The bot's real delivery worker (started by the harness) and a real job worker.
    stop = asyncio.Event()
    worker = asyncio.create_task(
        JobWorker(bot.services.sessions, bot.services.settings).run_until(stop)
    )
    try:
        status, body = 0, {}
        for _ in range(50):
            status, body = await health(bot.services)
            if status == 200:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await worker
    assert status == 200, body
    assert body["status"] == "ok" and body["problems"] == [] and body["database"] == "ok"
    assert set(body["workers"]) == {"delivery", "jobs"}
    for worker_report in body["workers"].values():
        assert worker_report["alive"] is True and worker_report["processes"] == 1
        assert worker_report["seconds_since"] < 10
    empty = {"due": 0, "oldest_due_seconds": 0.0, "pending": 0, "failed": 0, "maybe_repeated": 0}
    assert body["outbox"] == {"telegram": empty, "email": empty}
    assert body["jobs"] == {"due": 0, "oldest_due_seconds": 0.0, "failed": 0}


async def test_without_workers_it_fails_and_says_which(services: Services) -> None:
    status, body = await health(services)
    assert status == 503
    assert body["status"] == "failing"
    assert body["problems"] == ["delivery worker not alive", "jobs worker not alive"]
    assert body["workers"]["delivery"] == {
        "alive": False,
        "processes": 0,
        "last_heartbeat": None,
        "seconds_since": None,
    }


async def test_a_silent_worker_is_not_alive(services: Services) -> None:
    await all_beating(services, ago=timedelta(minutes=3))
    await beat(services.sessions, "jobs", utcnow(), process="other-host:7:def")
    status, body = await health(services)
    assert status == 503 and body["problems"] == ["delivery worker not alive"]
    assert body["workers"]["delivery"]["seconds_since"] >= 180
    assert body["workers"]["jobs"]["alive"] and body["workers"]["jobs"]["processes"] == 1


async def test_the_email_worker_is_expected_when_email_is_set_up(database_url: str) -> None:
    settings = settings_for_test(database_url, "http://127.0.0.1:9", smtp_host="127.0.0.1")
    services = build_services(settings)
    try:
        await all_beating(services)
        status, body = await health(services)
        assert status == 503 and body["problems"] == ["email worker not alive"]
        await beat(services.sessions, "email", utcnow())
        status, body = await health(services)
        assert status == 200 and body["workers"]["email"]["alive"]
    finally:
        await services.engine.dispose()


async def test_backlogs_are_counted_and_a_stuck_one_fails(services: Services) -> None:
    await all_beating(services)
    now = utcnow()
    async with services.sessions() as session, session.begin():
        # Due a minute ago; two more for the same person wait behind it (not "due" yet).
        for _ in range(3):
            await outbox.tell(session, 9001, "access_approved", "fi", now=now)
        await outbox.email(session, "a@example.fi", "calendar_email", "fi", now=now)
        failed = await outbox.tell(session, 9002, "access_approved", "fi", now=now)
        assert failed is not None
        failed.state = OutboxState.FAILED
        twice = await outbox.tell(session, 9003, "access_approved", "fi", now=now)
        assert twice is not None
        twice.state, twice.maybe_repeated = OutboxState.SENT, True
        await jobs.schedule(session, "test.noop", now - timedelta(minutes=2))
        await jobs.schedule(session, "test.noop", now + timedelta(hours=1))
        await session.execute(
            update(OutboxMessage).values(next_attempt_at=now - timedelta(minutes=1))
        )
    status, body = await health(services)
    assert status == 200, body
    assert body["outbox"]["telegram"] == {
        "due": 1,
        "oldest_due_seconds": pytest.approx(60, abs=5),
        "pending": 3,
        "failed": 1,
        "maybe_repeated": 1,  # sent after a try nobody knows the outcome of
    }
    assert body["outbox"]["email"]["due"] == 1
    assert body["jobs"] == {"due": 1, "oldest_due_seconds": pytest.approx(120, abs=5), "failed": 0}

    # Eleven minutes: past HEALTH_STUCK_SECONDS (ten minutes by default).
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.email_to.is_(None))
            .values(next_attempt_at=now - timedelta(minutes=11))
        )
        await session.execute(update(Job).values(due_at=now - timedelta(minutes=11)))
    status, body = await health(services)
    assert status == 503
    assert body["problems"] == ["telegram outbox stuck", "jobs stuck"]
    assert body["outbox"]["telegram"]["oldest_due_seconds"] >= 660
    assert body["jobs"]["due"] == 2


async def test_health_fails_when_the_database_is_unreachable() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    services = build_services(settings_for_test(url, "http://127.0.0.1:9"))
    try:
        status, body = await health(services)
    finally:
        await services.engine.dispose()
    assert status == 503
    assert body == {
        "status": "failing",
        "problems": ["database unreachable"],
        "database": "unreachable",
    }
