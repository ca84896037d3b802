"""The fake Bot API's webhook: posting pending updates to the registered URL, as Telegram does.

Like the Bot API server (telegram-bot-api's WebhookActor): the updates of one chat go one at a
time, in order, the next only after the previous was answered 2xx; different chats go at the
same time, up to `max_connections`; a non-2xx answer or a broken connection means the same
update again after a delay that doubles. The secret given to setWebhook travels in the
`X-Telegram-Bot-Api-Secret-Token` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from .fake_bot_api import FakeBotAPI

JSON = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Delivery:
    """One try to post one update: the answer's status, or the connection error's kind."""

    update_id: int
    outcome: int | str
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, int) and 200 <= self.outcome < 300


def queue_of(update: JSON) -> int | str:
    """Which chat's queue an update waits in (its user's, for updates without a chat)."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        if isinstance(value.get("from"), dict):
            return value["from"]["id"]
    return "-"


class WebhookSender:
    def __init__(
        self,
        api: FakeBotAPI,
        url: str,
        secret: str | None,
        max_connections: int = 40,
        *,
        first_delay: float = 0.1,
        timeout: float = 60.0,
    ) -> None:
        self.api, self.url, self.secret = api, url, secret
        self.max_connections = max_connections
        self.first_delay, self.timeout = first_delay, timeout
        self.last_error: tuple[int, str] | None = None
        self._retry_at: dict[int, float] = {}
        self._delay: dict[int, float] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop posting; an update being posted is let go (its answer no longer counts)."""
        if self._task is not None:
            # A flag, not cancel(): Python 3.11's wait_for can swallow a cancellation.
            self._stopping = True
            self.api._bump()
            await self._task
            self._task = None

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            try:
                while not self._stopping:
                    changed = self.api._changed
                    wait = self._start_due(http)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), wait)
            finally:
                for task in self._in_flight.values():
                    task.cancel()
                await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def _start_due(self, http: aiohttp.ClientSession) -> float:
        """Post what may go now; how long until a delayed update may go again."""
        api = self.api
        api._updates = [u for u in api._updates if not api._allowed.isdisjoint(u)]
        now, seen, wait = time.monotonic(), set(), 1.0
        for update in list(api._updates):
            queue = queue_of(update)
            if queue in seen:  # an earlier update of this chat has not been answered 2xx yet
                continue
            seen.add(queue)
            update_id = update["update_id"]
            if update_id in self._in_flight or len(self._in_flight) >= self.max_connections:
                continue
            if (due := self._retry_at.get(update_id, 0.0)) > now:
                wait = min(wait, due - now)
                continue
            self._in_flight[update_id] = asyncio.create_task(self._post(http, update))
        return wait

    async def _post(self, http: aiohttp.ClientSession, update: JSON) -> None:
        update_id = update["update_id"]
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        outcome: int | str
        try:
            body = json.dumps(copy.deepcopy(update)).encode()
            async with http.post(self.url, data=body, headers=headers) as response:
                await response.read()
                outcome = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            outcome = type(error).__name__
        delivery = Delivery(update_id, outcome)
        self.api.webhook_deliveries.append(delivery)
        if delivery.ok:
            self.api._updates = [u for u in self.api._updates if u["update_id"] != update_id]
            self._retry_at.pop(update_id, None)
            self._delay.pop(update_id, None)
        else:
            delay = self._delay.get(update_id, self.first_delay)
            self._delay[update_id] = min(delay * 2, 5.0)
            self._retry_at[update_id] = time.monotonic() + delay
            self.last_error = (int(time.time()), f"Wrong response from the webhook: {outcome}")
        del self._in_flight[update_id]
        self.api._bump()
