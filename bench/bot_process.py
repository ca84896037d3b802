"""A real `kerralla run` process for the benchmarks, against a fake Bot API in this process.

`databases()` yields the databases to measure on (SQLite, and PostgreSQL when it answers);
`RunningBot` starts the process, waits until `/healthz` answers 200 and stops it with SIGTERM;
`TimedFakeBotAPI` notes when each message arrives.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from scheduling.db import DatabaseUnavailable, check_reachable
from tests.databases import create_postgres_database, drop_postgres_database, sqlite_url
from tests.fake_bot_api import JSON, FakeBotAPI
from tests.harness import DATA_KEY, TOKEN
from tests.postgres_available import postgres_url

KERRALLA = str(Path(sys.executable).with_name("kerralla"))
# Settings of the developer's shell or .env never reach the measured process.
SETTINGS = ("TELEGRAM_", "DATABASE_URL", "PUBLIC_BASE_URL", "WEB_", "SMTP_", "DATA_KEY",
            "TIMEZONE", "DEFAULT_LOCALE", "ADMIN_TELEGRAM_IDS", "LOG_", "HEALTH_")  # fmt: skip


def postgres_reachable() -> bool:
    try:
        asyncio.run(check_reachable(postgres_url(), timeout=5))
    except DatabaseUnavailable:
        print("PostgreSQL is not reachable: measuring on SQLite only")
        return False
    return True


@contextmanager
def databases(name: str) -> Iterator[Iterator[tuple[str, str]]]:
    """(kind, empty database URL) for SQLite and, when it answers, PostgreSQL."""
    with tempfile.TemporaryDirectory() as folder:

        def each() -> Iterator[tuple[str, str]]:
            yield "sqlite", sqlite_url(Path(folder) / f"{name}.db")
            if postgres_reachable():
                database = f"kerralla_bench_{name}"
                url = create_postgres_database(database)
                try:
                    yield "postgresql", url
                finally:
                    drop_postgres_database(database)

        yield each()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TimedFakeBotAPI(FakeBotAPI):
    """The fake Bot API, noting (monotonic time, chat) of every message it takes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(token=TOKEN, **options)
        self.arrivals: list[tuple[float, int]] = []

    def _post(self, chat: JSON, params: JSON, **content: Any) -> JSON:
        message = super()._post(chat, params, **content)
        self.arrivals.append((time.monotonic(), chat["id"]))
        return message


class RunningBot:
    """`kerralla run` on `database_url`, polling `api`; `started` is when it was spawned."""

    def __init__(self, api: FakeBotAPI, database_url: str, **settings: str) -> None:
        self.api, self.database_url, self.port = api, database_url, free_port()
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.folder = tempfile.TemporaryDirectory()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def __aenter__(self) -> RunningBot:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS)}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.api.url,
            DATA_KEY=DATA_KEY,
            DATABASE_URL=self.database_url,
            WEB_PORT=str(self.port),
            LOG_LEVEL="WARNING",
            **self.settings,
        )
        self.started = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            KERRALLA,
            "run",
            cwd=self.folder.name,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return self

    async def ready(self, timeout: float = 120) -> float:
        """Seconds from the spawn until `/healthz` answered 200."""
        assert self.process is not None
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - self.started < timeout:
                if self.process.returncode is not None:
                    raise RuntimeError(f"kerralla run ended early ({self.process.returncode})")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            return time.monotonic() - self.started
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.02)
        raise RuntimeError(f"kerralla run was not ready in {timeout:.0f} s")

    def rss_mib(self) -> float:
        """The process's resident memory now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc")

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (user and system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.folder.cleanup()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]
