"""A reverse proxy for tests, as nginx's `upstream` does it: each request to the next backend in
turn; a backend that refuses the connection is skipped (`proxy_next_upstream error`)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass(frozen=True)
class Forwarded:
    port: int  # the backend that answered
    path: str
    status: int
    update_id: int | None  # for a webhook post


class RoundRobinProxy:
    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.forwarded: list[Forwarded] = []
        self._turn = itertools.cycle(range(len(ports)))
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> RoundRobinProxy:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> RoundRobinProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def webhook_ports(self) -> list[tuple[int, int]]:
        """(update id, backend port) of each update the backends answered 2xx, in order."""
        return [
            (f.update_id, f.port)
            for f in self.forwarded
            if f.update_id is not None and 200 <= f.status < 300
        ]

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        update_id = None
        if request.path == "/telegram/webhook":
            try:
                update_id = int(json.loads(body)["update_id"])
            except (ValueError, KeyError, TypeError):
                update_id = None
        for _ in self.ports:
            port = self.ports[next(self._turn)]
            url = f"http://127.0.0.1:{port}{request.path_qs}"
            try:
                async with self._http.request(
                    request.method, url, data=body, headers=headers
                ) as response:
                    data = await response.read()
                    status = response.status
                    content_type = response.headers.get("Content-Type")
            except aiohttp.ClientConnectorError:  # not listening: the next one
                continue
            self.forwarded.append(Forwarded(port, request.path, status, update_id))
            reply = web.Response(status=status, body=data)
            if content_type:
                reply.headers["Content-Type"] = content_type
            return reply
        return web.Response(status=502)
