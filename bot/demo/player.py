"""Acting out the demo: people typing and pressing buttons in the fake Telegram, waiting for
what the bot answers, and moving the clock for the job worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from scheduling.db import READ_ONLY
from scheduling.jobs import JobWorker
from scheduling.models import Job, JobState, OutboxMessage, OutboxState, utcnow

from ..services import Services
from .fake_bot_api import JSON
from .transcript import ObservedBotAPI, Transcript, button_rows

Match = Callable[[JSON], bool]
TIMEOUT = 20.0


def anything(_message: JSON) -> bool:
    return True


def has_button(prefix: str) -> Match:
    """A message with a button whose callback data starts with `prefix`."""
    return lambda message: any(
        key.get("callback_data", "").startswith(prefix)
        for row in button_rows(message)
        for key in row
    )


def button(message: JSON, prefix: str) -> JSON:
    """The first button on the message whose callback data starts with `prefix`."""
    for row in button_rows(message):
        for key in row:
            if key.get("callback_data", "").startswith(prefix):
                return key
    raise LookupError(f"no button {prefix!r} on the message")


class StageClock:
    """The play's time: the real time, until the play moves it forward to a moment (the
    summary time, the day before, the end of the meeting); from there it runs on."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.ahead

    def move_to(self, moment: datetime) -> None:
        self.ahead = max(self.ahead, moment - utcnow())


class Player:
    def __init__(
        self,
        api: ObservedBotAPI,
        transcript: Transcript,
        services: Services,
        clock: StageClock,
    ) -> None:
        self.api, self.transcript, self.services = api, transcript, services
        self.clock = clock

    async def type(self, who: int, text: str, expect: Match = anything) -> JSON:
        """`who` sends `text`; the first message of the bot to them after it that `expect`s."""
        self.transcript.typed(who, text)
        mark = len(self.api.shown)
        self.api.send_text(who, text)
        return await self.seen(who, mark, expect)

    async def press(
        self,
        who: int,
        message: JSON,
        data: str,
        expect: Match = anything,
        *,
        context: str = "",
        flush: bool = True,
    ) -> JSON:
        """`who` presses the button (callback data starting with `data`) on the message as it
        is now; the first message (new or edited) to them after it that `expect`s. Without
        `flush`, what the bot shows meanwhile is printed later, as it ends up."""
        current = self.api.current(who, message["message_id"])
        key = button(current, data)
        self.transcript.pressed(who, key["text"], context, flush)
        mark = len(self.api.shown)
        self.api.press(who, current["message_id"], key["callback_data"])
        return await self.seen(who, mark, expect)

    async def seen(self, who: int, mark: int, expect: Match = anything) -> JSON:
        def found() -> JSON | None:
            for event in self.api.shown[mark:]:
                if event.chat_id == who and event.kind != "notice" and expect(event.message):
                    return self.api.current(who, event.message["message_id"])
            return None

        return await self.api.wait_for(found, TIMEOUT)

    async def message_to(self, who: int, expect: Match) -> JSON:
        """A message the bot has sent to `who` (waiting for it), as it is now."""
        return await self.seen(who, 0, expect)

    async def settle(self) -> None:
        """Wait until every update is handled as far as the outbox: nothing left to send."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            async with self.services.sessions() as session:
                await session.connection(execution_options=READ_ONLY)
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING]))
                )
            if not waiting and not self.api.pending_updates:
                break
            if loop.time() > deadline:
                raise TimeoutError(f"{waiting} messages still unsent after {TIMEOUT:.0f} s")
            await asyncio.sleep(0.05)
        self.transcript.flush()

    async def at(self, moment: datetime) -> list[Job]:
        """Run the job worker once as if it were `moment`; the jobs that did something (not
        skipped). What they queued is sent meanwhile (see `settle`)."""
        self.clock.move_to(moment)
        worker = JobWorker(self.services.sessions, self.services.settings, clock=self.clock)
        await worker.run_once()
        self.services.outbox_wake.set()
        async with self.services.sessions() as session:
            await session.connection(execution_options=READ_ONLY)
            done = (
                await session.scalars(
                    select(Job)
                    .where(Job.finished_at >= moment, Job.state == JobState.DONE)
                    .where(Job.note.is_(None))
                    .order_by(Job.due_at, Job.id)
                )
            ).all()
        return list(done)
