"""Serve different people at the same time, but each person's updates one after another.

Two taps of one button, or a message sent while the previous one is still being handled, then
never race each other; two different users never wait for each other. With `around` set (see
`shared_conversations.py`), each update is also handled inside its sender's database lease, so
the same holds across several processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Around = Callable[[object], AbstractAsyncContextManager[bool]]


class PerUserUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        # Wraps the handling of each update; yields False when it must be skipped.
        self.around: Around | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = (
            update.effective_user.id if isinstance(update, Update) and update.effective_user else 0
        )
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        started = False
        try:
            async with lock:
                if self.around is None:
                    started = True
                    await coroutine
                    return
                async with self.around(update) as handle:
                    if handle:
                        started = True
                        await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # skipped (a repeat) or failed before: never awaited
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
