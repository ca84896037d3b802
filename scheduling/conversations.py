"""Each person's place in the chat's step-by-step conversations, kept in the database.

Several `kerralla run` processes can answer one bot (webhook mode behind a reverse proxy), so
one person's consecutive messages may reach different processes. Before a process handles a
person's update it takes a lease on that person's row — two processes never handle one
person's updates at the same time — and reads what the previous update left; afterwards it
writes the new state and gives the lease back. A process that died holding a lease loses it
after `LEASE`.

The state is JSON sealed with DATA_KEY (it can hold what the person typed). The row also keeps
the ids of the last updates handled, so an update delivered again (Telegram retries after a
timeout) is handled once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .config import Settings
from .crypto import seal, unseal
from .db import transaction
from .models import ConversationState, utcnow

log = logging.getLogger(__name__)

# Longest a process may hold a person before another may take over (it died meanwhile).
LEASE = timedelta(minutes=2)
RECENT_UPDATES = 32
# Waiting for another process to finish with a person: first poll, then at most this often.
FIRST_POLL, LAST_POLL = 0.01, 0.25
# A conversation left untouched this long is forgotten (a convener's draft is gone by then).
IDLE = timedelta(days=7)


def process_name() -> str:
    """This process among the others: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Held:
    """A person's lease: the state the previous update left, and whether this one is a repeat."""

    state: dict[str, Any]
    repeat: bool


async def _take(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: int,
    holder: str,
    update_id: int,
    now: datetime,
) -> Held | None:
    async with transaction(sessions) as session:
        row = await session.get(
            ConversationState, user_id, with_for_update=True, populate_existing=True
        )
        if row is None:
            row = ConversationState(telegram_user_id=user_id, recent_updates=[], updated_at=now)
            session.add(row)
        elif row.holder not in (None, holder) and row.lease_until and row.lease_until > now:
            return None
        row.holder, row.lease_until = holder, now + LEASE
        return Held(_open(settings, row.state_encrypted), update_id in row.recent_updates)


async def take(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: int,
    holder: str,
    update_id: int,
    clock: Callable[[], datetime] = utcnow,
) -> Held:
    """Wait until no other process handles this person, then hold them."""
    pause = FIRST_POLL
    while True:
        try:
            held = await _take(sessions, settings, user_id, holder, update_id, clock())
        except IntegrityError:  # another process made the person's first row at the same time
            held = None
        if held is not None:
            return held
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_POLL)


async def give_back(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: int,
    holder: str,
    update_id: int,
    state: dict[str, Any] | None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Write the state this update left (None: as it was) and let other processes in."""
    now = clock()
    async with transaction(sessions) as session:
        row = await session.get(
            ConversationState, user_id, with_for_update=True, populate_existing=True
        )
        if row is None or row.holder != holder:
            # Held past the lease, and another process took over: its state wins.
            log.warning("a conversation lease ran out before its update was handled")
            return
        if state is not None:
            row.state_encrypted = seal(settings, json.dumps(state)) if state else None
            row.updated_at = now
        if update_id not in row.recent_updates:
            row.recent_updates = [*row.recent_updates, update_id][-RECENT_UPDATES:]
        row.holder = row.lease_until = None


async def forget_idle(session: AsyncSession, now: datetime) -> int:
    """Drop conversations nobody has touched for `IDLE` (retention); how many."""
    result = await session.execute(
        delete(ConversationState).where(
            ConversationState.updated_at < now - IDLE,
            (ConversationState.lease_until.is_(None)) | (ConversationState.lease_until < now),
        )
    )
    return result.rowcount or 0


def _open(settings: Settings, sealed: bytes | None) -> dict[str, Any]:
    if sealed is None:
        return {}
    try:
        return json.loads(unseal(settings, sealed))
    except (InvalidToken, ValueError):
        # Sealed under a key no longer in DATA_KEY: the person starts their conversation anew.
        log.warning("a conversation state could not be opened with DATA_KEY; starting afresh")
        return {}
