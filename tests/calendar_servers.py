"""Real calendar servers on loopback for the calendar tests: Radicale (CalDAV) as a subprocess,
and an aiohttp server that publishes .ics feeds and misbehaves on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from aiohttp import web


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Radicale -------------------------------------------------------------------------------------


@dataclass
class RadicaleServer:
    """A running Radicale: `url` is its root, `username`/`password` one htpasswd user."""

    url: str
    username: str
    password: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except urllib.error.HTTPError:
            return  # it answers (401 or a redirect page): good enough
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("Radicale did not start in time")


@contextlib.contextmanager
def radicale_server(
    folder: Path, username: str = "sari", password: str = "salasana"
) -> Iterator[RadicaleServer]:
    """Start Radicale 3 on a free loopback port with one htpasswd user; stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    users = folder / "users"
    users.write_text(f"{username}:{password}\n", encoding="utf-8")
    config = folder / "config"
    config.write_text("", encoding="utf-8")  # no system or user configuration files
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        str(config),
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(folder / "collections"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        str(users),
        "--auth-htpasswd-encryption",
        "plain",
        "--auth-delay",
        "0",
        "--rights-type",
        "owner_only",
        "--logging-level",
        "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RadicaleServer(f"http://127.0.0.1:{port}/", username, password, process)
    try:
        _wait_until_answers(server.url, process, time.monotonic() + 15)
        yield server
    finally:
        server.stop()


# Feeds over HTTP ------------------------------------------------------------------------------


@dataclass
class FeedServer:
    """An aiohttp server on 127.0.0.1 serving `feeds` by path, plus misbehaving endpoints.

    `requests` counts the requests per path. Paths: /feeds/<name> (from `feeds`), /slow
    (answers after `slow_seconds`), /status/<code>, /garbage, /huge (over 5 MB, streamed),
    /redirect?to=<url> (302), /loop (redirects to itself).
    """

    feeds: dict[str, bytes] = field(default_factory=dict)
    slow_seconds: float = 5.0
    requests: Counter[str] = field(default_factory=Counter)
    base_url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{name}", self._feed)
        app.router.add_route("*", "/slow", self._slow)  # any method: CalDAV sends PROPFIND
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/garbage", self._garbage)
        app.router.add_get("/huge", self._huge)
        app.router.add_route("*", "/redirect", self._redirect)
        app.router.add_get("/loop", self._loop)
        return app

    def _count(self, request: web.Request) -> None:
        self.requests[request.path] += 1

    async def _feed(self, request: web.Request) -> web.Response:
        self._count(request)
        body = self.feeds.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/calendar", charset="utf-8")

    async def _slow(self, request: web.Request) -> web.Response:
        self._count(request)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.slow_seconds):
                await self.released.wait()
        return web.Response(text="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")

    async def _status(self, request: web.Request) -> web.Response:
        self._count(request)
        return web.Response(status=int(request.match_info["code"]), text="no")

    async def _garbage(self, request: web.Request) -> web.Response:
        self._count(request)
        return web.Response(text="<html><body>Sign in to see this calendar</body></html>")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        response = web.StreamResponse()
        response.content_type = "text/calendar"
        await response.prepare(request)
        line = b"X-FILLER:" + b"x" * 1000 + b"\r\n"
        await response.write(b"BEGIN:VCALENDAR\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(6 * 1024):  # about 6 MB
                await response.write(line)
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        self._count(request)
        raise web.HTTPFound(request.query["to"])

    async def _loop(self, request: web.Request) -> web.Response:
        self._count(request)
        raise web.HTTPFound("/loop")


@contextlib.asynccontextmanager
async def feed_server(feeds: dict[str, bytes] | None = None) -> AsyncIterator[FeedServer]:
    """Serve feeds on a free loopback port for the duration of the block."""
    server = FeedServer(feeds=dict(feeds or {}))
    runner = web.AppRunner(server.app(), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.released.set()
        await runner.cleanup()


# A big published calendar -----------------------------------------------------------------------

BIG_FEED_ZONE = """BEGIN:VTIMEZONE\r
TZID:FLE Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T040000\r
TZOFFSETFROM:+0300\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0300\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""


def big_feed(
    events: int = 16_000,
    *,
    size: int = 5 * 1024 * 1024 - 1024,
    recurring_share: float = 0.04,
    first_day: date = date(2021, 1, 4),
    years: int = 7,
    seed: int = 20261204,
) -> bytes:
    """An Outlook-style published calendar of `events` events spread over `years` years from
    `first_day`, the same for the same arguments: office-hour meetings in a Windows-named zone,
    a few all-day ones, and `recurring_share` of weekly series. Descriptions fill it up to
    about `size` bytes (5 MiB less 1 KiB: just under what Kerralla reads)."""
    rng = random.Random(seed)
    stamp = "20261201T080000Z"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Microsoft Corporation//Outlook 16.0//EN",
             "METHOD:PUBLISH", "X-WR-CALNAME:Kalenteri"]  # fmt: skip
    parts = ["\r\n".join(lines) + "\r\n", BIG_FEED_ZONE]
    filler = "Asiakastyön palaveri, jossa käydään läpi tilanne ja sovitaan seuraavista askelista. "
    blocks = []
    for number in range(events):
        day = first_day + timedelta(days=rng.randrange(years * 365))
        begin = datetime.combine(day, clock(rng.randrange(8, 16), rng.choice((0, 15, 30))))
        event = [
            "BEGIN:VEVENT",
            f"UID:{number:08d}-4a1c-kerralla-feed@example.fi",
            f"DTSTAMP:{stamp}",
            f"SUMMARY;LANGUAGE=fi-FI:Tapaaminen {number}",
            "DESCRIPTION:{description}",
            "SEQUENCE:0",
            "TRANSP:OPAQUE",
            "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
        ]
        if rng.random() < 0.05:
            after = day + timedelta(days=1)
            event += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{after:%Y%m%d}"]
        else:
            end = begin + timedelta(minutes=rng.choice((30, 60, 90)))
            event += [f"DTSTART;TZID=FLE Standard Time:{begin:%Y%m%dT%H%M%S}",
                      f"DTEND;TZID=FLE Standard Time:{end:%Y%m%dT%H%M%S}"]  # fmt: skip
        if rng.random() < recurring_share:
            event.append(f"RRULE:FREQ=WEEKLY;COUNT={rng.randrange(4, 40)}")
        event.append("END:VEVENT")
        blocks.append("\r\n".join(event) + "\r\n")
    parts.append("END:VCALENDAR\r\n")
    bare = sum(len(p.encode()) for p in parts + blocks) - len("{description}") * events
    room = max((size - bare) // events, 1)
    text = (filler * (room // len(filler) + 1)).encode()[:room].decode(errors="ignore")
    filled = [block.replace("{description}", text.rstrip()) for block in blocks]
    return "".join(parts[:-1] + filled + parts[-1:]).encode()
