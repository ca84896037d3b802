"""Kerralla's real Application, polling the fake Bot API over HTTP, for in-process bot tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet
from telegram.ext import Application

from bot.app import build_application, build_services
from bot.commands import register_commands
from bot.delivery import Delivery
from bot.rate_limit import no_limits
from bot.services import Services
from scheduling.config import Settings, load_settings
from scheduling.mail_delivery import MailDelivery
from scheduling.models import utcnow

from .fake_bot_api import FakeBotAPI

TOKEN = "123456789:TEST-token-for-the-fake-bot-api"
DATA_KEY = Fernet.generate_key().decode()


def settings_for_test(database_url: str, api_url: str, **overrides: Any) -> Settings:
    """Settings for a test: from these values only, never from a developer's .env."""
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": api_url,
        "database_url": database_url,
        "data_key": DATA_KEY,
        "web_port": 8080,
    }
    values.update(overrides)
    return load_settings(_env_file=None, **values)


def button(message: dict[str, Any], label: str) -> str:
    """The callback_data of the button showing `label` on a message the bot sent."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for key in row:
            if key["text"] == label:
                return key["callback_data"]
    raise AssertionError(f"no button {label!r} on the message")


async def callback_answer(api: FakeBotAPI, callback_id: str) -> dict[str, Any]:
    """What the bot answered to one button press (the toast or alert the user saw)."""
    return await api.wait_for(
        lambda: next(
            (a for a in api.answered_callbacks if a["callback_query_id"] == callback_id), None
        )
    )


class Clock:
    """The bot's one clock in a test: the real time until the test sets a moment, then that
    moment (handlers, pages and the harness's own workers all read it)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at if self.at is not None else utcnow()

    def set(self, at: datetime) -> None:
        self.at = at


class BotHarness:
    def __init__(
        self, api: FakeBotAPI, application: Application, services: Services, clock: Clock
    ) -> None:
        self.api = api
        self.application = application
        self.services = services
        self.clock = clock


@asynccontextmanager
async def running_bot(
    database_url: str, *, telegram_limits: bool = False, **overrides: Any
) -> AsyncIterator[BotHarness]:
    """The bot against a fake Bot API that enforces no limits, so by default the bot keeps
    none either (conversations at full speed); `telegram_limits=True` keeps Telegram's."""
    async with FakeBotAPI(token=TOKEN) as api:
        clock = Clock()
        services = build_services(settings_for_test(database_url, api.url, **overrides), clock)
        application = build_application(
            services, rate_limiter=None if telegram_limits else no_limits()
        )
        await application.initialize()
        await register_commands(application.bot, services.settings.default_locale)
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        stop = asyncio.Event()
        workers = [Delivery(services, application.bot, idle_seconds=0.2)]
        if services.settings.smtp_host:
            workers.append(
                MailDelivery(
                    services.sessions, services.settings, idle_seconds=0.2, clock=services.now
                )
            )
        sending = asyncio.gather(*(w.run_until(stop, services.outbox_wake) for w in workers))
        try:
            yield BotHarness(api, application, services, clock)
        finally:
            stop.set()
            await sending
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
            await services.engine.dispose()
