"""Conversation state shared by every process: loaded before a person's update, saved after.

python-telegram-bot keeps each ConversationHandler's states and each person's `user_data` in
the process's memory. With several processes behind one webhook address, a person's next
message may reach another process, which would not know where they were. So around each
update (see `update_processor.py`) the person's state is read from the database into the
Application, the update is handled as usual, and the state is written back and dropped from
memory (`scheduling.conversations` holds the lease and seals the state).

The ConversationHandlers' state dictionaries are not public in python-telegram-bot; this module
is the one place that reads and writes them (a conversation key is (chat id, user id)).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application, ConversationHandler

from scheduling import conversations

from .services import Services


class SharedConversations:
    def __init__(self, application: Application, services: Services) -> None:
        self.application = application
        self.services = services
        self.holder = conversations.process_name()

    @asynccontextmanager
    async def around(self, update: object) -> AsyncIterator[bool]:
        """Hold the sender while their update is handled; yields False for an update that was
        handled before (delivered again), which must then not be handled."""
        user = update.effective_user if isinstance(update, Update) else None
        if user is None or not isinstance(update, Update):
            yield True
            return
        svc = self.services
        held = await conversations.take(
            svc.sessions, svc.settings, user.id, self.holder, update.update_id, svc.now
        )
        state: dict[str, Any] | None = None
        try:
            if held.repeat:
                yield False
                return
            self._restore(user.id, held.state)
            try:
                yield True
            finally:
                state = self._snapshot(user.id)
                self._forget(user.id)
        finally:
            await conversations.give_back(
                svc.sessions,
                svc.settings,
                user.id,
                self.holder,
                update.update_id,
                state,
                svc.now,
            )

    # -- between the Application's memory and a JSON state ------------------------------------

    def _handlers(self) -> list[ConversationHandler]:
        return [
            handler
            for group in self.application.handlers.values()
            for handler in group
            if isinstance(handler, ConversationHandler) and handler.per_user and handler.name
        ]

    @staticmethod
    def _user_of(handler: ConversationHandler, key: tuple[int | str, ...]) -> int | str:
        return key[1] if handler.per_chat else key[0]

    def _states(self, handler: ConversationHandler) -> dict[tuple[int | str, ...], object]:
        return handler._conversations

    def _snapshot(self, user_id: int) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for handler in self._handlers():
            steps = [
                [list(key), step]
                for key, step in self._states(handler).items()
                if self._user_of(handler, key) == user_id and isinstance(step, int | str)
            ]
            if steps:
                state.setdefault("conversations", {})[handler.name] = steps
        if data := self.application.user_data.get(user_id):
            state["user_data"] = dict(data)
        return state

    def _restore(self, user_id: int, state: dict[str, Any]) -> None:
        self._forget(user_id)
        saved = state.get("conversations", {})
        for handler in self._handlers():
            for key, step in saved.get(handler.name, []):
                self._states(handler)[tuple(key)] = step
        if data := state.get("user_data"):
            self.application.user_data[user_id].update(data)

    def _forget(self, user_id: int) -> None:
        for handler in self._handlers():
            states = self._states(handler)
            for key in [k for k in states if self._user_of(handler, k) == user_id]:
                del states[key]
        self.application.drop_user_data(user_id)
