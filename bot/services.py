"""What every face of the bot needs at hand: the settings and the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduling.config import Settings
from scheduling.i18n import Translator, translator


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def translator(self, locale: str) -> Translator:
        return translator(locale, self.settings.timezone)
