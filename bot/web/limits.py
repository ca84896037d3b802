"""Rate limits on the secret-link pages (/f/, /s/, /ics/): per link and per client address.

An in-memory sliding window for each process: a request is refused with 429, a short page in
the visitor's language and Retry-After, when the link or the address has made its number of
requests in the last minute. A refused request is not counted, and never reaches the database.
The address is the connecting one; only when that is a TRUSTED_PROXY is it read from
X-Forwarded-For, from the right, skipping the trusted proxies.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web

from scheduling.config import Settings

from .pages import render, request_translator

WINDOW = 60.0
LIMITED = ("/f/", "/s/", "/ics/")
MAX_KEYS = 50_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], float]
Network = IPv4Network | IPv6Network


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds; bounded in memory.

    Keys are kept least recently used first, so forgetting stale ones, or the oldest ones when
    there are too many (someone trying many links), costs little per request.
    """

    def __init__(
        self,
        limit: int,
        window: float = WINDOW,
        clock: Clock = time.monotonic,
        keys: int = MAX_KEYS,
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, keys
        self.events: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds until `key` may go again; 0 if it may now."""
        now = self.clock()
        times = self.events.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def record(self, key: str) -> None:
        now = self.clock()
        times = self.events.get(key)
        if times is None:
            times = self.events[key] = deque()
        else:
            self.events.move_to_end(key)
        times.append(now)
        self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop keys with nothing left in the window, and the least recent beyond the limit
        (down to nine tenths of it, so that this happens seldom)."""
        crowded = len(self.events) > self.max_keys
        while self.events:
            times = next(iter(self.events.values()))
            stale = times[-1] <= now - self.window
            if not stale and not (crowded and len(self.events) > self.max_keys * 9 // 10):
                break
            self.events.popitem(last=False)


def client_address(request: web.Request, trusted: Iterable[Network]) -> str:
    """The connecting address; behind a trusted proxy, the one it saw (X-Forwarded-For)."""
    trusted = tuple(trusted)
    peer = request.remote or "unknown"
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _link_key(token: str) -> str:
    # The secret itself is not kept in memory longer than the request.
    return hashlib.blake2b(token.encode(), digest_size=16).hexdigest()


def too_many_requests(request: web.Request, settings: Settings, wait: float) -> web.Response:
    t = request_translator(request, settings.default_locale, settings.timezone)
    response = render(request, "too_many_requests.html", t)
    response.set_status(429)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    response.headers["Cache-Control"] = "no-store"
    return response


def rate_limits(settings: Settings, clock: Clock = time.monotonic) -> Callable[..., object]:
    """The middleware, with its own windows (one set per web application)."""
    per_link = SlidingWindow(settings.rate_limit_per_token, clock=clock)
    per_address = SlidingWindow(settings.rate_limit_per_address, clock=clock)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.match_info.get("token")
        if token is None or not request.path.startswith(LIMITED):
            return await handler(request)
        link = _link_key(token)
        address = client_address(request, settings.trusted_proxy)
        wait = max(per_link.wait(link), per_address.wait(address))
        if wait > 0:
            return too_many_requests(request, settings, wait)
        per_link.record(link)
        per_address.record(address)
        return await handler(request)

    return limit
