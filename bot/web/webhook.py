"""Telegram's webhook: updates posted to PUBLIC_BASE_URL/telegram/webhook by the Bot API.

Only a request carrying the secret Kerralla registered (header
`X-Telegram-Bot-Api-Secret-Token`, compared in constant time) is read; any other gets 403 and
changes nothing. The update is handled before the answer, so a process stopped meanwhile
(SIGTERM) finishes it first, and one that died never said 200: Telegram delivers it again,
to any process, and the conversation lease skips an update that was already handled.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from scheduling.config import WEBHOOK_PATH, Settings
from scheduling.errors import StartupError, describe

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is a few kilobytes; a message of 4,096 characters with entities and buttons stays
# well below this.
MAX_UPDATE_BYTES = 256 * 1024


class TelegramWebhook:
    def __init__(self, application: Application, secret: str) -> None:
        self.application = application
        self.secret = secret.encode("ascii")

    def add_route(self, app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.secret):
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
            return web.Response(status=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > MAX_UPDATE_BYTES:
                return web.Response(status=413)
            chunks.append(chunk)
        body = b"".join(chunks)
        application = self.application
        try:
            data = json.loads(body)
            update = Update.de_json(data, application.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            return web.Response(status=400)
        if not application.running:  # starting or stopping: Telegram tries again shortly
            return web.Response(status=503, headers={"Retry-After": "1"})
        try:
            await application.update_processor.process_update(
                update, application.process_update(update)
            )
        except Exception as exc:  # e.g. the database away for a moment: Telegram tries again
            log.error("a webhook update could not be handled: %s", describe(exc))
            return web.Response(status=500)
        return web.Response(status=200)


async def register_webhook(application: Application, settings: Settings) -> None:
    """Tell the Bot API where to post updates, with the secret; every process may do this at
    start (it is the same address and secret for all), and none removes it when stopping."""
    assert settings.webhook_url is not None and settings.telegram_webhook_secret is not None
    try:
        await application.bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
    except TelegramError as exc:
        raise StartupError(
            f"the Bot API at {settings.telegram_api_url} refused the webhook address "
            f"{settings.webhook_url} ({exc.message}): check PUBLIC_BASE_URL (Telegram's own "
            "server needs https:// on port 443, 80, 88 or 8443)"
        ) from None
    log.info("Telegram posts updates to %s", settings.webhook_url)
