"""Delivery rate of a broadcast: 1,000 messages to 1,000 people, queued in one transaction, sent
by a real `kerralla run` to a fake Bot API that enforces Telegram's limits (30 a second overall,
about one a second per chat) and answers 429 to anything over them.

Target: at least 90 % of the allowed 30 a second (27 a second), with no 429 at all.
`.venv/bin/python -m bench.delivery` prints the figures; `run()` gives them to bench/__main__.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import insert

from scheduling import schema
from scheduling.db import create_engine
from scheduling.models import Channel, OutboxMessage, OutboxState, TelegramUser, utcnow

from .bot_process import RunningBot, TimedFakeBotAPI, databases

MESSAGES = 1_000
FIRST_CHAT = 5_000_000


async def broadcast(url: str) -> tuple[float, int, float]:
    """(messages a second from the commit to the last arrival, 429s answered, seconds)."""
    await schema.upgrade(url)
    chats = range(FIRST_CHAT, FIRST_CHAT + MESSAGES)
    async with TimedFakeBotAPI(limits=True) as api:
        for chat in chats:
            api.user(chat)
        async with RunningBot(api, url) as bot:
            await bot.ready()
            engine = create_engine(url)
            now = utcnow()
            async with engine.begin() as connection:
                await connection.execute(
                    insert(TelegramUser),
                    [{"id": chat, "locale": "fi", "created_at": now} for chat in chats],
                )
                await connection.execute(
                    insert(OutboxMessage),
                    [
                        {
                            "channel": Channel.TELEGRAM,
                            "kind": "access_approved",
                            "locale": "fi",
                            "telegram_chat_id": chat,
                            "payload": {},
                            "state": OutboxState.PENDING,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for chat in chats
                    ],
                )
            committed = time.monotonic()
            await engine.dispose()
            await api.wait_for(lambda: len(api.arrivals) >= MESSAGES, timeout=300)
            elapsed = api.arrivals[-1][0] - committed
            return MESSAGES / elapsed, api.rate_limited, elapsed


def run() -> dict[str, dict[str, float | str]]:
    results: dict[str, dict[str, float | str]] = {}
    with databases("delivery") as each:
        for kind, url in each:
            rate, refused, seconds = asyncio.run(broadcast(url))
            results[f"broadcast_1000_{kind}_rate"] = {"value": round(rate, 1), "unit": "msg/s"}
            results[f"broadcast_1000_{kind}_429s"] = {"value": refused, "unit": "429s"}
            results[f"broadcast_1000_{kind}_seconds"] = {"value": round(seconds, 1), "unit": "s"}
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:40} {figure['value']:>10} {figure['unit']}")
