"""Telegram's sending limits, kept on our side so that Telegram seldom has to answer 429.

Every message the bot sends or edits (a handler's reply or the outbox's delivery) takes a turn
from token buckets before it leaves: about 30 a second overall, about one a second to a chat
with a short burst allowed, 20 a minute to a group. When Telegram answers 429 all the same,
its `retry_after` pauses that chat; when a second chat is refused while the first is still
paused, Telegram is limiting the bot as a whole, and everything pauses.

PTB's own `AIORateLimiter` has no limit per private chat and pauses everything at any 429;
this one replaces it (`Application.builder().rate_limiter(...)`).

The buckets live in this process. Several processes sending from one database each keep their
own: give each `TELEGRAM_MESSAGES_PER_SECOND` = 30 divided by their number. A chat's outbox
messages are claimed one at a time across all processes (`scheduling.outbox.claim`), so one
chat is never flooded from two places at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

JSONish = bool | dict[str, Any] | list[dict[str, Any]]
LIMITED = ("send", "edit", "copy", "forward")
# How many chats' buckets are kept before the idle ones are forgotten.
KEEP_CHATS = 2048


@dataclass(frozen=True)
class Patience:
    """How long one request may be held: `retries` after a 429, and at most `max_wait`
    seconds for its turn (a longer wait raises RetryAfter at once, without calling Telegram,
    so that the outbox can put the message back and send others meanwhile)."""

    retries: int = 3
    max_wait: float | None = None


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` in seconds, whether PTB gives an int or a timedelta."""
    with warnings.catch_warnings():  # PTB warns that the int will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class TokenBucket:
    """`rate` turns a second, `burst` of them at once; turns are handed out in order."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = burst, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a turn would be free (0 when one is)."""
        self._refill()
        return max(0.0, (1 - self.tokens) / self.rate)

    def take(self) -> float:
        """Take the next turn; seconds to wait until it comes (the turn is ours meanwhile)."""
        delay = self.wait()
        self.tokens -= 1
        return delay

    def idle(self) -> bool:
        self._refill()
        return self.tokens >= self.burst


class TelegramRateLimiter(BaseRateLimiter[Patience]):
    def __init__(
        self,
        per_second: float = 30.0,
        *,
        burst: float = 5,
        chat_per_second: float = 1.0,
        chat_burst: float = 3,
        group_per_minute: float = 20,
        group_burst: float = 10,
        patience: Patience = Patience(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.patience = patience
        self._chat = (chat_per_second, chat_burst)
        self._group = (group_per_minute / 60, group_burst)
        self._all = TokenBucket(per_second, burst, clock)
        self._chats: dict[int | str, TokenBucket] = {}
        self._groups: dict[int | str, TokenBucket] = {}
        self._paused: dict[int | str, float] = {}
        self._all_paused_until = 0.0
        self.refused = 0  # 429 answers seen, for tests and benchmarks

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    # -- pauses asked for by Telegram -------------------------------------------------------

    def pause(self, chat: int | str | None, seconds: float) -> None:
        """Telegram asked to wait `seconds`: for that chat, or for everything (see module)."""
        now = self.clock()
        until = now + seconds
        self.refused += 1
        others = [key for key, end in self._paused.items() if end > now and key != chat]
        if chat is None or others:
            self._all_paused_until = max(self._all_paused_until, until)
            log.warning("Telegram asked the bot to wait %.0f s: all sending paused", seconds)
        else:
            log.info("Telegram asked to wait %.0f s before the next message to a chat", seconds)
        if chat is not None:
            self._paused[chat] = max(self._paused.get(chat, 0.0), until)

    # -- turns ------------------------------------------------------------------------------

    def _bucket(
        self, buckets: dict[int | str, TokenBucket], chat: int | str, rate: tuple[float, float]
    ) -> TokenBucket:
        bucket = buckets.get(chat)
        if bucket is None:
            if len(buckets) >= KEEP_CHATS:
                for key in [key for key, b in buckets.items() if b.idle()]:
                    del buckets[key]
                now = self.clock()
                for key in [key for key, end in self._paused.items() if end <= now]:
                    del self._paused[key]
            bucket = buckets[chat] = TokenBucket(*rate, clock=self.clock)
        return bucket

    async def _turn(self, chat: int | str, max_wait: float | None) -> None:
        """Wait for this chat's and everyone's turn; RetryAfter if it would exceed max_wait."""
        while True:
            now = self.clock()
            paused = max(self._all_paused_until, self._paused.get(chat, 0.0)) - now
            if paused <= 0:
                break
            if max_wait is not None and paused > max_wait:
                raise RetryAfter(timedelta(seconds=math.ceil(paused)))
            await asyncio.sleep(paused)
        buckets = [self._bucket(self._chats, chat, self._chat)]
        if _is_group(chat):
            buckets.append(self._bucket(self._groups, chat, self._group))
        ahead = max(bucket.wait() for bucket in buckets)
        if max_wait is not None and ahead + self._all.wait() > max_wait:
            raise RetryAfter(timedelta(seconds=max(1, math.ceil(ahead + self._all.wait()))))
        # The chat's turn first, then the overall one: a message waiting for its chat does not
        # hold a turn others could use meanwhile.
        ahead = max(bucket.take() for bucket in buckets)
        if ahead > 0:
            await asyncio.sleep(ahead)
        overall = self._all.take()
        if overall > 0:
            await asyncio.sleep(overall)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONish]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Patience | None,
    ) -> JSONish:
        chat = _chat_key(data.get("chat_id"))
        if chat is None or not endpoint.lower().startswith(LIMITED):
            return await callback(*args, **kwargs)
        patience = rate_limit_args or self.patience
        tries = 0
        while True:
            await self._turn(chat, patience.max_wait)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.pause(chat, retry_seconds(exc))
                tries += 1
                if tries > patience.retries:
                    raise


def no_limits() -> TelegramRateLimiter:
    """For a fake Bot API that enforces no limits (the demo, most tests): no waiting."""
    return TelegramRateLimiter(10_000, burst=10_000, chat_per_second=10_000, chat_burst=10_000)


def _chat_key(chat_id: Any) -> int | str | None:
    if chat_id is None:
        return None
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)


def _is_group(chat: int | str) -> bool:
    """Groups and channels: negative ids, or @channel names."""
    return isinstance(chat, str) or chat < 0
