"""What every face of the bot needs at hand: the settings and the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduling.calendars import FeedCache
from scheduling.config import Settings
from scheduling.i18n import Translator, translator
from scheduling.models import utcnow


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    calendar_cache: FeedCache
    # Set after a commit that queued messages, so that delivery sends them at once.
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The one clock of this process: handlers, pages and workers all take the time from it.
    clock: Callable[[], datetime] = utcnow

    def now(self) -> datetime:
        return self.clock()

    def translator(self, locale: str) -> Translator:
        return translator(locale, self.settings.timezone)
