"""The real `kerralla run` process, against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from scheduling import schema

from .fake_bot_api import FakeBotAPI
from .harness import DATA_KEY, TOKEN

KERRALLA = str(Path(sys.executable).with_name("kerralla"))
SETTINGS = (
    "TELEGRAM_",
    "DATABASE_URL",
    "PUBLIC_BASE_URL",
    "WEB_",
    "SMTP_",
    "DATA_KEY",
    "TIMEZONE",
    "DEFAULT_LOCALE",
    "ADMIN_TELEGRAM_IDS",
    "LOG_",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS)}
    env.update(values)
    return env


async def test_kerralla_run_migrates_answers_start_and_stops(
    empty_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    async with FakeBotAPI(token=TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            KERRALLA,
            "run",
            cwd=tmp_path,
            env=environment(
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=api.url,
                DATA_KEY=DATA_KEY,
                DATABASE_URL=empty_database_url,
                WEB_PORT=str(port),
                LOG_LEVEL="DEBUG",
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            health = await wait_until_healthy(port, process)
            assert health["status"] == "ok" and health["database"] == "ok"
            assert {name for name, w in health["workers"].items() if w["alive"]} == {
                "delivery",
                "jobs",
            }
            await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=20)

            api.user(501, first_name="Aino", language_code="fi")
            api.send_text(501, "/start")
            reply = await api.wait_for_message(501, timeout=20)
            assert reply["text"].startswith("Hei! Kerralla kokoaa")
            assert {("default", lang) for lang in ("fi", "sv", "en", "")} <= set(api.commands)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            output = (await asyncio.wait_for(process.communicate(), 20))[0].decode()
    assert process.returncode == 0, output
    assert "Kerralla is running" in output
    # Migrated before it started; the bot's token never reached the log, even at DEBUG.
    assert await schema.current_revision(empty_database_url) == schema.head_revision()
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output


async def wait_until_healthy(port: int, process: asyncio.subprocess.Process) -> dict:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                output = (await process.stdout.read()).decode() if process.stdout else ""
                raise AssertionError(f"kerralla run ended early: {output}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("kerralla run did not become healthy in 30 s")
