"""Conversation state in the database: one process at a time per person, sealed, repeats
recognised, forgotten after a week of silence."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduling import conversations
from scheduling.config import Settings
from scheduling.db import transaction
from scheduling.models import ConversationState, utcnow

from .harness import settings_for_test

USER = 4242


def settings(url: str) -> Settings:
    return settings_for_test(url, "http://127.0.0.1:1")


async def test_state_is_sealed_and_an_update_seen_before_is_a_repeat(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = settings(database_url)
    held = await conversations.take(sessions, config, USER, "a", 10)
    assert held.state == {} and not held.repeat
    state = {"user_data": {"convene": {"label": "AK-12"}}, "conversations": {"c": [[[1, 1], 3]]}}
    await conversations.give_back(sessions, config, USER, "a", 10, state)

    async with sessions() as session:
        row = await session.get(ConversationState, USER)
    assert row.holder is None and row.recent_updates == [10]
    assert row.state_encrypted and b"AK-12" not in row.state_encrypted

    again = await conversations.take(sessions, config, USER, "b", 10)  # delivered again
    assert again.repeat and again.state == state
    await conversations.give_back(sessions, config, USER, "b", 10, None)  # left as it was
    nxt = await conversations.take(sessions, config, USER, "b", 11)
    assert not nxt.repeat and nxt.state == state


async def test_a_second_process_waits_until_the_first_gives_the_person_back(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = settings(database_url)
    await conversations.take(sessions, config, USER, "first", 1)
    waiting = asyncio.create_task(conversations.take(sessions, config, USER, "second", 2))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await conversations.give_back(sessions, config, USER, "first", 1, {"user_data": {"n": 1}})
    held = await asyncio.wait_for(waiting, 5)
    assert held.state == {"user_data": {"n": 1}}


async def test_a_dead_processs_lease_runs_out_and_its_late_state_is_not_written(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = settings(database_url)
    await conversations.take(sessions, config, USER, "dead", 1)
    async with transaction(sessions) as session:
        await session.execute(
            update(ConversationState).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    held = await asyncio.wait_for(conversations.take(sessions, config, USER, "alive", 2), 5)
    assert held.state == {}
    await conversations.give_back(sessions, config, USER, "dead", 1, {"user_data": {"x": 1}})
    await conversations.give_back(sessions, config, USER, "alive", 2, {"user_data": {"y": 2}})
    assert (await conversations.take(sessions, config, USER, "c", 3)).state == {
        "user_data": {"y": 2}
    }


async def test_retention_forgets_conversations_idle_for_a_week(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    config = settings(database_url)
    for user in (1, 2):
        await conversations.take(sessions, config, user, "p", 1)
        await conversations.give_back(sessions, config, user, "p", 1, {"user_data": {"a": 1}})
    async with transaction(sessions) as session:
        await session.execute(
            update(ConversationState)
            .where(ConversationState.telegram_user_id == 1)
            .values(updated_at=utcnow() - timedelta(days=8))
        )
    async with transaction(sessions) as session:
        assert await conversations.forget_idle(session, utcnow()) == 1
    async with sessions() as session:
        assert list(await session.scalars(select(ConversationState.telegram_user_id))) == [2]
