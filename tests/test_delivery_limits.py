"""Delivery inside Telegram's limits: against the fake Bot API enforcing them (about 30 a
second overall, about one a second to a chat after a short burst), a burst arrives whole and in
order without a single 429; a 429 Telegram answers all the same is waited out, for that chat
only, and the message arrives once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select
from telegram.error import RetryAfter

from bot.messages import RENDERERS, Rendered
from bot.rate_limit import Patience, TelegramRateLimiter, retry_seconds
from scheduling import outbox
from scheduling.models import OutboxMessage, OutboxState

from .harness import BotHarness, running_bot


@pytest.fixture(autouse=True)
def retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB's future behaviour, without its warning


@pytest.fixture
def numbered() -> Iterator[None]:
    """A message kind that reads "Viesti N", to see the order messages arrive in."""

    async def render(session, t, row, ctx) -> Rendered:  # type: ignore[no-untyped-def]
        return Rendered(f"Viesti {row.payload['n']}")

    RENDERERS["test_numbered"] = render
    yield
    del RENDERERS["test_numbered"]


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[BotHarness]:
    """The bot keeping Telegram's limits, as in production."""
    async with running_bot(database_url, telegram_limits=True) as harness:
        yield harness


async def queue(bot: BotHarness, messages: list[tuple[int, int]]) -> None:
    """Queue (chat, n) messages in one transaction, like a change that tells many people."""
    for chat, _ in messages:
        bot.api.user(chat)
    async with bot.services.sessions() as session, session.begin():
        for chat, n in messages:
            await outbox.tell(session, chat, "test_numbered", "fi", now=bot.services.now(), n=n)
    bot.services.outbox_wake.set()


def texts(bot: BotHarness, chat: int) -> list[str]:
    return [message["text"] for message in bot.api.messages(chat)]


async def settled_rows(bot: BotHarness) -> list[OutboxMessage]:
    """Every outbox row, once none is in flight (a message arrives before it is recorded)."""
    for _ in range(100):
        async with bot.services.sessions() as session:
            rows = list((await session.scalars(select(OutboxMessage))).all())
        if all(row.state != OutboxState.SENDING for row in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("outbox rows still in flight")


async def test_a_burst_to_one_chat_arrives_in_order_without_a_single_429(
    bot: BotHarness, numbered: None
) -> None:
    api = bot.api
    api.limits = True
    # Eight messages to one person, and one each to forty others, all at once.
    others = list(range(8100, 8140))
    await queue(bot, [(8001, n) for n in range(1, 9)] + [(chat, 1) for chat in others])
    started = time.monotonic()
    await api.wait_for(
        lambda: len(texts(bot, 8001)) == 8 and all(texts(bot, chat) for chat in others),
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert texts(bot, 8001) == [f"Viesti {n}" for n in range(1, 9)]
    assert api.rate_limited == 0 and api.faulted == []
    # A short burst, then about one a second: the eight took at least five seconds.
    assert elapsed >= 4.5
    rows = await settled_rows(bot)
    assert {row.state for row in rows} == {OutboxState.SENT}
    assert {row.attempts for row in rows} == {1}


async def test_a_429_is_waited_out_for_that_chat_and_the_message_arrives_once(
    bot: BotHarness, numbered: None
) -> None:
    api = bot.api
    api.fail_next("sendMessage", "429:2")
    await queue(bot, [(8201, 1)])
    await api.wait_for(lambda: api.faulted, timeout=10)
    refused_at = time.monotonic()
    # Another chat is not held up by that chat's pause.
    await queue(bot, [(8202, 1)])
    await api.wait_for_message(8202, "Viesti 1", timeout=5)
    assert texts(bot, 8201) == []
    await api.wait_for_message(8201, "Viesti 1", timeout=10)
    assert time.monotonic() - refused_at >= 1.9
    assert texts(bot, 8201) == ["Viesti 1"]
    assert len([p for p in api.calls_to("sendMessage") if p["chat_id"] == 8201]) == 2
    row = next(row for row in await settled_rows(bot) if row.telegram_chat_id == 8201)
    # Asked to wait is not a failed try.
    assert row.state == OutboxState.SENT and row.attempts == 1 and row.last_error == "RetryAfter"


# -- the limiter itself, with a callback standing in for the HTTP request ---------------------


class Clock:
    """Time that moves only when the limiter sleeps (asyncio.sleep is patched to advance)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += max(seconds, 0)

    monkeypatch.setattr("bot.rate_limit.asyncio.sleep", sleep)
    return clock


Sent = list[tuple[int, float]]


async def send(
    limiter: TelegramRateLimiter,
    clock: Clock,
    chat: int,
    sent: Sent,
    patience: Patience | None = None,
) -> None:
    async def request() -> bool:
        sent.append((chat, clock.now))
        return True

    await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": chat}, patience)


async def test_one_chat_gets_a_burst_then_one_a_second(clock: Clock) -> None:
    limiter = TelegramRateLimiter(30, chat_burst=3, clock=clock)
    sent: Sent = []
    for _ in range(6):
        await send(limiter, clock, 1, sent)
    times = [at - 1000 for _, at in sent]
    assert times == pytest.approx([0, 0, 0, 1, 2, 3], abs=0.05)


async def test_many_chats_go_at_the_overall_rate(clock: Clock) -> None:
    limiter = TelegramRateLimiter(30, burst=5, clock=clock)
    sent: Sent = []
    for chat in range(1, 306):
        await send(limiter, clock, chat, sent)
    # 5 at once, then 30 a second: 300 more take ten seconds.
    assert sent[-1][1] - sent[0][1] == pytest.approx(10, abs=0.1)


async def test_groups_get_twenty_a_minute(clock: Clock) -> None:
    limiter = TelegramRateLimiter(30, group_per_minute=20, group_burst=10, clock=clock)
    sent: Sent = []
    for _ in range(30):
        await send(limiter, clock, -100123, sent)
    # Three at once and seven more at the chat's own pace, one a second; then the group's
    # twenty a minute: thirty in a minute.
    assert sent[9][1] - sent[0][1] == pytest.approx(7, abs=0.05)
    assert sent[-1][1] - sent[0][1] == pytest.approx(60, abs=0.05)


async def test_a_pause_holds_one_chat_unless_telegram_refuses_two(clock: Clock) -> None:
    limiter = TelegramRateLimiter(30, clock=clock)
    limiter.pause(1, 10)
    sent: Sent = []
    await send(limiter, clock, 2, sent)
    assert sent == [(2, 1000.0)]  # another chat goes at once
    await send(limiter, clock, 1, sent)
    assert sent[-1] == (1, pytest.approx(1010.0))
    # Two chats refused at once: the bot as a whole is over its limit; everything waits.
    limiter.pause(3, 5)
    limiter.pause(4, 5)
    await send(limiter, clock, 5, sent)
    assert sent[-1] == (5, pytest.approx(1015.0))


async def test_a_long_wait_is_handed_back_instead_of_held(clock: Clock) -> None:
    limiter = TelegramRateLimiter(30, clock=clock)
    limiter.pause(1, 30)
    sent: Sent = []
    with pytest.raises(RetryAfter) as refused:
        await send(limiter, clock, 1, sent, Patience(retries=0, max_wait=5))
    assert retry_seconds(refused.value) == 30
    assert sent == [] and clock.now == 1000.0
