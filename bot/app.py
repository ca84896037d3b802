"""Builds the python-telegram-bot Application and the aiohttp app, and runs them together."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, BaseRateLimiter

from scheduling.calendars import FeedCache
from scheduling.config import Settings
from scheduling.db import create_engine, one_process_at_a_time, session_factory, transaction
from scheduling.errors import StartupError, describe
from scheduling.jobs import JobWorker
from scheduling.mail_delivery import MailDelivery
from scheduling.models import utcnow
from scheduling.reminders import schedule_retention

from . import handlers
from .commands import register_commands
from .context import Context, translator_for
from .delivery import Delivery
from .rate_limit import TelegramRateLimiter
from .services import Services
from .shared_conversations import SharedConversations
from .update_processor import PerUserUpdateProcessor
from .web.app import build_web_app
from .web.webhook import TelegramWebhook, register_webhook

log = logging.getLogger(__name__)


class StartError(StartupError):
    """Kerralla cannot start; the message is one line for the person starting it."""


def build_services(settings: Settings, clock: Callable[[], datetime] = utcnow) -> Services:
    engine = create_engine(settings.database_url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        calendar_cache=FeedCache(settings.calendar_cache_seconds),
        clock=clock,
    )


async def on_error(update: object, context: Context) -> None:
    # Only the kind and place of the failure: an update's content may be personal data.
    log.error(
        "handling update %s failed: %s",
        getattr(update, "update_id", "-"),
        describe(context.error) if context.error else "-",
    )
    if isinstance(update, Update) and update.effective_chat and update.effective_user:
        with suppress(Exception):
            t = await translator_for(update, context)
            await context.bot.send_message(
                update.effective_chat.id,
                t.gettext("Something went wrong. Please try again in a moment."),
            )


def build_application(
    services: Services, *, rate_limiter: BaseRateLimiter | None = None
) -> Application:
    """The bot; `rate_limiter` replaces Telegram's limits (the offline demo's fake has none)."""
    settings = services.settings
    assert settings.telegram_bot_token is not None
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        .rate_limiter(rate_limiter or TelegramRateLimiter(settings.telegram_messages_per_second))
        .concurrent_updates(PerUserUpdateProcessor())
        .build()
    )
    application.bot_data["services"] = services
    handlers.install(application)
    # Where each person is in a conversation lives in the database, so that any process can
    # take their next update (several processes behind one webhook address).
    processor = application.update_processor
    assert isinstance(processor, PerUserUpdateProcessor)
    processor.around = SharedConversations(application, services).around
    application.add_error_handler(on_error)
    return application


async def start_web(services: Services, webhook: TelegramWebhook | None = None) -> web.AppRunner:
    app = build_web_app(services)
    if webhook is not None:
        webhook.add_route(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, services.settings.web_host, services.settings.web_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartError(
            f"cannot listen on {services.settings.web_host}:{services.settings.web_port} "
            f"({exc.strerror}): set WEB_HOST and WEB_PORT to a free address"
        ) from None
    return runner


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def start_jobs(services: Services, stop: asyncio.Event) -> asyncio.Task[None]:
    async with transaction(services.sessions) as session:
        await one_process_at_a_time(session)  # several processes may start at once
        await schedule_retention(session, services.settings, services.now())
    worker = JobWorker(
        services.sessions,
        services.settings,
        clock=services.now,
        after_batch=services.outbox_wake.set,
    )
    return asyncio.create_task(worker.run_until(stop))


async def run_worker(settings: Settings) -> None:
    """Only the timed jobs, until SIGTERM or SIGINT: for running them apart from the bot."""
    services = build_services(settings)
    stop = stop_on_signals()
    try:
        jobs = await start_jobs(services, stop)
        log.info("Kerralla's job worker is running")
        await jobs
    finally:
        await services.engine.dispose()


async def run(settings: Settings) -> None:
    """Run the bot and the web server until SIGTERM or SIGINT.

    Updates come by long polling, or — with TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL set —
    posted by Telegram to this process's web server, as to every other process behind the
    same address. Stopping finishes the updates in hand first.
    """
    if settings.telegram_webhook_secret is not None and settings.webhook_url is None:
        raise StartError(
            "TELEGRAM_WEBHOOK_SECRET is set but PUBLIC_BASE_URL is not: set PUBLIC_BASE_URL to "
            "the https:// address Telegram reaches Kerralla at, or leave the secret empty for "
            "long polling"
        )
    services = build_services(settings)
    stop = stop_on_signals()
    application = build_application(services)
    webhook = None
    if settings.telegram_webhook_secret is not None:
        webhook = TelegramWebhook(application, settings.telegram_webhook_secret.get_secret_value())
    runner = await start_web(services, webhook)
    web_stopped = False
    try:
        try:
            await application.initialize()
        except InvalidToken:
            raise StartError(
                f"the Bot API at {settings.telegram_api_url} does not accept the token: "
                "check TELEGRAM_BOT_TOKEN"
            ) from None
        except TelegramError as exc:
            raise StartError(
                f"cannot reach the Bot API at {settings.telegram_api_url} ({exc.message}): "
                "check TELEGRAM_API_URL and the network"
            ) from None
        await register_commands(application.bot, settings.default_locale)
        await application.start()
        if webhook is not None:
            await register_webhook(application, settings)
        else:
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        jobs = await start_jobs(services, stop)
        delivery = Delivery(services, application.bot)
        sending = [asyncio.create_task(delivery.run_until(stop, services.outbox_wake))]
        if settings.smtp_host:
            mail = MailDelivery(services.sessions, settings, clock=services.now)
            sending.append(asyncio.create_task(mail.run_until(stop, services.outbox_wake)))
        log.info(
            "Kerralla is running: bot @%s, web %s", application.bot.username, settings.base_url
        )
        await stop.wait()
        log.info("Stopping")
        if webhook is not None:
            # No new requests; the updates in hand are finished (the proxy sends the next ones
            # to the other processes). The webhook stays registered for them.
            await runner.cleanup()
            web_stopped = True
        else:
            await application.updater.stop()
        await application.stop()  # finishes the updates in hand
        await jobs  # finishes the batch in hand
        await asyncio.gather(*sending)
    finally:
        if application.running:
            await application.stop()
        with suppress(Exception):
            await application.shutdown()
        if not web_stopped:
            await runner.cleanup()
        await services.engine.dispose()
