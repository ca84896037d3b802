"""Webhook mode: Telegram posts updates to the real `kerralla run` process, which checks the
secret, refuses what it should, and finishes the update in hand when told to stop."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from telegram import Update

from scheduling.config import SettingsError, load_settings
from scheduling.db import create_engine, session_factory
from scheduling.models import TelegramUser

from .fake_bot_api import FakeBotAPI
from .harness import DATA_KEY, TOKEN
from .test_run import KERRALLA, environment, free_port, wait_until_healthy

SECRET = "k" * 20 + "Secret_-0123456789abcdef"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def forged_start(user_id: int, update_id: int) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "Mallory", "language_code": "fi"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "Mallory"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_the_fake_posts_each_chats_updates_in_order_with_the_secret_and_retries() -> None:
    received: list[tuple[int, str | None]] = []
    refuse_once = {1}

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((update["update_id"], request.headers.get(HEADER)))
        if update["update_id"] in refuse_once:
            refuse_once.discard(update["update_id"])
            return web.Response(status=500)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with FakeBotAPI(token=TOKEN, local=True) as api, aiohttp.ClientSession() as http:
            url = f"{api.url}/bot{TOKEN}"
            async with http.post(
                f"{url}/setWebhook", json={"url": "http://127.0.0.1:1/x", "secret_token": "a b"}
            ) as response:
                assert response.status == 400  # not a valid secret
            async with http.post(
                f"{url}/setWebhook",
                json={"url": f"http://127.0.0.1:{port}/hook", "secret_token": "s3cret"},
            ) as response:
                assert (await response.json())["result"] is True
            api.send_text(11, "one")  # refused once, then again: 11's next waits for it
            api.send_text(11, "two")
            api.send_text(12, "other chat")
            await api.wait_for(lambda: not api.pending_updates)
            async with http.get(f"{url}/getUpdates") as response:
                assert response.status == 409  # a webhook is set
    finally:
        await runner.cleanup()
    assert all(secret == "s3cret" for _, secret in received)
    order = [update_id for update_id, _ in received]
    assert order.count(1) == 2 and order.count(2) == 1 and order.count(3) == 1
    taken = max(i for i, update_id in enumerate(order) if update_id == 1)
    assert order.index(2) > taken  # chat 11's second update only after its first was taken


async def test_kerralla_run_takes_updates_by_webhook_refuses_forgeries_and_stops_cleanly(
    empty_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeBotAPI(token=TOKEN, local=True) as api:
        process = await asyncio.create_subprocess_exec(
            KERRALLA,
            "run",
            cwd=tmp_path,
            env=environment(
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=api.url,
                TELEGRAM_WEBHOOK_SECRET=SECRET,
                PUBLIC_BASE_URL=base,
                DATA_KEY=DATA_KEY,
                DATABASE_URL=empty_database_url,
                WEB_PORT=str(port),
                LOG_LEVEL="DEBUG",
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await wait_until_healthy(port, process)
            await api.wait_for(lambda: api.webhook_url, timeout=20)
            assert api.webhook_url == f"{base}/telegram/webhook"
            registered = api.calls_to("setWebhook")[-1]
            assert registered["secret_token"] == SECRET
            assert registered["drop_pending_updates"] is False
            assert set(registered["allowed_updates"]) == set(Update.ALL_TYPES)
            assert not api.calls_to("getUpdates")

            # Forgeries: no secret, a wrong one, too big, not an update. None changes anything.
            hook = f"{base}/telegram/webhook"
            forged = json.dumps(forged_start(777, 10_000))
            async with aiohttp.ClientSession() as http:
                statuses = []
                for headers, body in [
                    ({}, forged),
                    ({HEADER: "wrong"}, forged),
                    ({HEADER: SECRET[:-1] + "x"}, forged),
                    ({HEADER: SECRET + "x"}, forged),
                    ({HEADER: SECRET}, "x" * 300_000),
                    ({HEADER: SECRET}, "{not json"),
                    ({HEADER: SECRET}, "[1, 2]"),
                ]:
                    async with http.post(hook, data=body, headers=headers) as response:
                        statuses.append(response.status)
            assert statuses == [403, 403, 403, 403, 413, 400, 400]

            # Telegram's own delivery, with the secret: answered once.
            api.user(501, first_name="Aino", language_code="fi")
            api.send_text(501, "/start")
            reply = await api.wait_for_message(501, timeout=20)
            assert reply["text"].startswith("Hei! Kerralla kokoaa")

            # An update in hand when SIGTERM comes is finished, and Telegram hears 200.
            api.fail_next("sendMessage", "slow:2")
            help_request = api.send_text(501, "/apua")
            await api.wait_for(
                lambda: any(c.get("chat_id") == 501 for c in api.calls_to("sendMessage")[1:]),
                timeout=20,
            )
            process.send_signal(signal.SIGTERM)
            output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, output
        answers = [d for d in api.webhook_deliveries if d.update_id == help_request["update_id"]]
        assert [d.outcome for d in answers] == [200]
        assert len(api.messages(501)) == 2  # the greeting and the help, each once
        assert not api.pending_updates
        assert api.webhook_url  # still registered, for the other processes
        assert not api.calls_to("deleteWebhook")
        assert all(c.get("chat_id") != 777 for c in api.calls_to("sendMessage"))

    engine = create_engine(empty_database_url)
    try:
        async with session_factory(engine)() as session:
            people = set(await session.scalars(select(TelegramUser.id)))
    finally:
        await engine.dispose()
    assert people == {501}
    assert SECRET not in output and TOKEN.split(":")[1] not in output


def test_a_bad_webhook_secret_stops_the_start_with_one_line_that_does_not_show_it() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, telegram_webhook_secret="short secret!")
    assert str(error.value).startswith(
        "TELEGRAM_WEBHOOK_SECRET is not 32 to 256 letters, digits, _ or -: set "
    )
    assert "short secret" not in str(error.value)
    assert load_settings(_env_file=None, telegram_webhook_secret="").webhook_url is None
    assert load_settings(_env_file=None, telegram_webhook_secret=SECRET).webhook_url is None
    assert (
        load_settings(
            _env_file=None,
            telegram_webhook_secret=SECRET,
            public_base_url="https://kerralla.example.fi/",
        ).webhook_url
        == "https://kerralla.example.fi/telegram/webhook"
    )


async def test_a_webhook_secret_without_a_public_address_stops_the_start(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        KERRALLA,
        "run",
        cwd=tmp_path,
        env=environment(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL="http://127.0.0.1:9",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            DATA_KEY=DATA_KEY,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
            WEB_PORT=str(free_port()),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode == 2, output
    assert output.strip().splitlines()[-1] == (
        "kerralla: TELEGRAM_WEBHOOK_SECRET is set but PUBLIC_BASE_URL is not: set "
        "PUBLIC_BASE_URL to the https:// address Telegram reaches Kerralla at, or leave the "
        "secret empty for long polling"
    )
    assert SECRET not in output
