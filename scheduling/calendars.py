"""Busy times from the calendars professionals already keep: published feeds and CalDAV.

A professional may give Kerralla a published calendar address (an `.ics` feed such as
Outlook's or Google's "publish calendar" link) or a CalDAV account. Before proposing times,
the scheduler reads each participant's calendar for the search window and gets back when they
are busy, as UTC instants:

- `busy_from_ics` is the pure part: iCalendar bytes → merged busy intervals in the window.
  Recurring events are expanded (RRULE, RDATE, EXDATE, moved or cancelled instances through
  RECURRENCE-ID); cancelled and transparent ("free") events do not block; all-day events block
  whole local days in the meeting's time zone; floating times are local times in that zone.
- `busy_from_feed` and `busy_from_caldav` read one source; `gather_busy` reads everyone's at
  once. None of them ever raises because of the source: a slow, unreachable, refusing or
  malformed calendar gives `CalendarResult(known=False, problem=…)`, and `problem_text` says
  in plain words what the convener should know. Scheduling goes on without that calendar.

Addresses are checked twice: when a professional enters one (`check_calendar_url`, raising
`InvalidInput`) and again at every fetch and redirect, so that a calendar address can never
make Kerralla read its own machine or a private network (problem "not_allowed"). At fetch time
the check is made on the addresses actually connected to (a resolver that refuses forbidden
addresses), which also covers names that change their answer between check and connect.

`FeedCache` keeps successfully read feed bodies for `calendar_cache_seconds`; failures are not
cached, so a calendar that was down is tried again at the next scheduling run (each try costs
at most one timeout, in parallel with the others).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from operator import attrgetter
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import aiohttp
import icalendar
import recurring_ical_events
from aiohttp.abc import AbstractResolver, ResolveResult

from .errors import InvalidInput, describe
from .i18n import N_
from .slots import Interval

log = logging.getLogger(__name__)

Problem = Literal["timeout", "unreachable", "refused", "malformed", "not_allowed"]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
K = TypeVar("K", bound=Hashable)

#: The largest calendar Kerralla reads; a bigger answer counts as malformed.
MAX_BODY_BYTES = 5 * 1024 * 1024
#: Redirects followed per fetch, each checked like the address itself.
MAX_REDIRECTS = 3
#: Occurrences expanded per calendar and window; more means a broken or hostile recurrence.
MAX_OCCURRENCES = 20_000
#: Recurrence frequencies no real meeting calendar uses, and which would take minutes to expand.
REFUSED_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY"})
#: How far around the window recurrences are expanded before clipping: covers any UTC offset.
_EXPANSION_MARGIN = timedelta(days=2)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "Kerralla calendar reader"
CALDAV_CALENDAR = "{urn:ietf:params:xml:ns:caldav}calendar"

# Messages for the professional entering an address (InvalidInput).
NOT_A_CALENDAR_URL = N_(
    "That does not look like a calendar address. Copy the whole address from your calendar's "
    "sharing settings; it starts with https:// or webcal://."
)
WRONG_SCHEME = N_("A calendar address starts with https://, http:// or webcal://.")
CREDENTIALS_IN_URL = N_("Leave the user name and password out of the calendar address.")
PRIVATE_ADDRESS = N_(
    "That calendar address points to a private or local network, which Kerralla may not read."
)

# Messages for the convener when a calendar could not be read; {name} is the participant.
PROBLEM_TEXTS: dict[str, str] = {
    "timeout": N_("{name}'s calendar did not answer in time, so their busy times are unknown."),
    "unreachable": N_("{name}'s calendar could not be reached, so their busy times are unknown."),
    "refused": N_(
        "{name}'s calendar refused the request (the address or password may be out of date), "
        "so their busy times are unknown."
    ),
    "malformed": N_(
        "{name}'s calendar sent something Kerralla cannot read as a calendar, "
        "so their busy times are unknown."
    ),
    "not_allowed": N_(
        "{name}'s calendar address points to a network Kerralla may not read, "
        "so their busy times are unknown."
    ),
}
UNKNOWN_PROBLEM = N_("{name}'s busy times are unknown.")


# Results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarResult:
    """What one participant's calendar says: busy intervals, or unknown with a problem code."""

    busy: list[Interval] = field(default_factory=list)
    known: bool = True
    problem: Problem | None = None

    @classmethod
    def unknown(cls, problem: Problem) -> CalendarResult:
        return cls(busy=[], known=False, problem=problem)


@dataclass(frozen=True, slots=True)
class CalendarSource:
    """Where one participant's busy times come from; all None means no calendar configured.

    The CalDAV password is in plain text here: the caller decrypts it just before the call.
    """

    feed_url: str | None = None
    caldav_url: str | None = None
    caldav_username: str | None = None
    caldav_password: str | None = field(default=None, repr=False)


def problem_text(problem: str | None) -> str:
    """The msgid (marked with N_, placeholder {name}) telling the convener about a problem."""
    return PROBLEM_TEXTS.get(problem or "", UNKNOWN_PROBLEM)


class MalformedCalendar(ValueError):
    """The data is not an iCalendar Kerralla can read (or its recurrences cannot be expanded)."""


class _SourceProblem(Exception):
    """Internal: reading a source failed with `problem`."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem: Problem = problem


class ForbiddenAddress(OSError):
    """A calendar host resolved to an address Kerralla may not connect to."""


# Parsing --------------------------------------------------------------------------------------


def _zone(time_zone: str | ZoneInfo) -> ZoneInfo:
    return time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)


def _as_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")
    return value.astimezone(UTC)


def _check_request(window_start: datetime, window_end: datetime, time_zone: str) -> None:
    """Programming errors (naive window, unknown zone) raise at once, before any reading."""
    _zone(time_zone)
    _as_utc(window_start, "window_start")
    _as_utc(window_end, "window_end")


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """An iCalendar time as a UTC instant: floating times and dates are local to `zone`."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    return datetime.combine(value, clock_time(), tzinfo=zone).astimezone(UTC)


def _is_free(component: icalendar.cal.Component) -> bool:
    """Cancelled, transparent or explicitly free events do not block time."""
    status = str(component.get("STATUS", "")).strip().upper()
    transparency = str(component.get("TRANSP", "")).strip().upper()
    outlook = str(component.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).strip().upper()
    return status == "CANCELLED" or transparency == "TRANSPARENT" or outlook == "FREE"


def merge_busy(intervals: list[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=attrgetter("start", "end")):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def _calendars_in(data: bytes | str) -> list[icalendar.Calendar]:
    try:
        components = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # icalendar raises ValueError and friends on anything odd
        raise MalformedCalendar(f"not iCalendar ({type(exc).__name__})") from exc
    if not components or any(c.name != "VCALENDAR" for c in components):
        raise MalformedCalendar("not a VCALENDAR")
    for calendar in components:
        for event in calendar.walk("VEVENT"):
            rules = event.get("RRULE", [])
            for rule in rules if isinstance(rules, list) else [rules]:
                try:
                    frequencies = {str(f).upper() for f in rule.get("FREQ", [])}
                except Exception as exc:  # icalendar 7 keeps broken values as vBroken
                    raise MalformedCalendar("broken RRULE") from exc
                if frequencies & REFUSED_FREQUENCIES:
                    raise MalformedCalendar(f"refused recurrence frequency {frequencies}")
    return list(components)


def busy_from_ics(
    data: bytes | str,
    window_start: datetime,
    window_end: datetime,
    time_zone: str | ZoneInfo,
) -> list[Interval]:
    """Merged busy intervals of the iCalendar `data` within [window_start, window_end).

    Times come out as aware UTC datetimes, clipped to the window. Raises `MalformedCalendar`
    when the data is not an iCalendar or its recurrences cannot be expanded.
    """
    zone = _zone(time_zone)
    start_utc, end_utc = _as_utc(window_start, "window_start"), _as_utc(window_end, "window_end")
    if end_utc <= start_utc:
        return []
    # Expand a little around the window in local time, then clip exactly: floating events
    # are compared by the library in whatever zone it likes.
    span_start = start_utc.astimezone(zone) - _EXPANSION_MARGIN
    span_end = end_utc.astimezone(zone) + _EXPANSION_MARGIN
    intervals: list[Interval] = []
    count = 0
    for calendar in _calendars_in(data):
        try:
            query = recurring_ical_events.of(calendar, components=("VEVENT",))
            for series in query.series:
                for occurrence in series.between(span_start, span_end):
                    count += 1
                    if count > MAX_OCCURRENCES:
                        raise MalformedCalendar("too many occurrences in the window")
                    interval = _occurrence_interval(occurrence, zone, start_utc, end_utc)
                    if interval is not None:
                        intervals.append(interval)
        except MalformedCalendar:
            raise
        except Exception as exc:  # bad rules, broken periods, mixed date types, …
            raise MalformedCalendar(f"cannot expand recurrences ({type(exc).__name__})") from exc
    return merge_busy(intervals)


def _occurrence_interval(
    occurrence: Any, zone: ZoneInfo, window_start: datetime, window_end: datetime
) -> Interval | None:
    """One expanded occurrence as a busy interval clipped to the window, or None."""
    if _is_free(occurrence.as_component(False)):
        return None
    begin, end = occurrence.start, occurrence.end
    if not isinstance(begin, datetime) and (end is None or end == begin):
        end = begin + timedelta(days=1)  # a DATE event without DTEND lasts one day
    if end is None:
        return None
    start_at = max(_instant(begin, zone), window_start)
    end_at = min(_instant(end, zone), window_end)
    if end_at <= start_at:
        return None  # zero-length, or outside the window
    return Interval(start_at, end_at)


# Addresses ------------------------------------------------------------------------------------


def address_allowed(address: Address, *, allow_loopback: bool) -> bool:
    """Whether Kerralla may connect to `address`: public unicast only (loopback if allowed)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_allowed(embedded, allow_loopback=allow_loopback)
        if address.teredo is not None:
            return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _normalize(url: str) -> tuple[str, str]:
    """(the URL to fetch, its host), or InvalidInput for anything not a plain web address."""
    text = (url or "").strip()
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput(NOT_A_CALENDAR_URL)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidInput(NOT_A_CALENDAR_URL) from None
    scheme = parts.scheme.lower()
    if scheme in {"webcal", "webcals"}:
        scheme = "https"
    if scheme not in {"http", "https"}:
        raise InvalidInput(WRONG_SCHEME)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInput(CREDENTIALS_IN_URL)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInput(NOT_A_CALENDAR_URL)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    normalized = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return normalized, host


def _check_addresses(addresses: list[Address], *, allow_loopback: bool) -> None:
    if not addresses or not all(
        address_allowed(a, allow_loopback=allow_loopback) for a in addresses
    ):
        raise InvalidInput(PRIVATE_ADDRESS)


def check_calendar_url(url: str, *, allow_loopback: bool, resolve: bool = True) -> str:
    """Check an address a professional enters; return it normalized (webcal:// → https://).

    Raises `InvalidInput` unless it is an http(s) address with a host, without credentials,
    that is not (and, with `resolve`, does not resolve to) a private, loopback, link-local,
    multicast, reserved or unspecified address. A name that does not resolve now is accepted:
    it is checked again at every fetch. `resolve` blocks on DNS; from async code run this
    through `asyncio.to_thread`.
    """
    normalized, host = _normalize(url)
    literal = _literal_address(host)
    if literal is not None:
        _check_addresses([literal], allow_loopback=allow_loopback)
    elif resolve:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return normalized
        _check_addresses(_addresses(infos), allow_loopback=allow_loopback)
    return normalized


def _addresses(infos: list[tuple[Any, ...]]) -> list[Address]:
    found: list[Address] = []
    for info in infos:
        address = _literal_address(str(info[4][0]))
        if address is not None:
            found.append(address)
    return found


async def _check_at_fetch(url: str, *, allow_loopback: bool) -> str:
    """The fetch-time check: like `check_calendar_url`, resolving through the event loop."""
    try:
        normalized, host = _normalize(url)
    except InvalidInput as exc:
        raise _SourceProblem("not_allowed", exc.message) from None
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise _SourceProblem("unreachable", f"cannot resolve {host}") from exc
        addresses = _addresses(infos)
    try:
        _check_addresses(addresses, allow_loopback=allow_loopback)
    except InvalidInput:
        raise _SourceProblem("not_allowed", f"{host} is not a public address") from None
    return normalized


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to forbidden addresses (at connect time)."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family
        )
        results: list[ResolveResult] = []
        for family_, _type, proto, _name, sockaddr in infos:
            address = _literal_address(str(sockaddr[0]))
            if address is None or not address_allowed(address, allow_loopback=self.allow_loopback):
                raise ForbiddenAddress(f"{host} resolves to a forbidden address")
            results.append(
                {
                    "hostname": host,
                    "host": str(sockaddr[0]),
                    "port": int(sockaddr[1]),
                    "family": family_,
                    "proto": proto,
                    "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                }
            )
        if not results:
            raise OSError(f"{host} has no addresses")
        return results

    async def close(self) -> None:
        return None


def calendar_session(*, allow_loopback: bool) -> aiohttp.ClientSession:
    """An HTTP session for reading feeds: guarded resolver, no cookies, no proxies from the
    environment. Share one across calls by passing it as `session`; the caller closes it."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_loopback=allow_loopback), use_dns_cache=False
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": _USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
    )


# Feed cache ---------------------------------------------------------------------------------


class FeedCache:
    """Feed bodies read successfully, by URL, for `ttl_seconds` (in-process only).

    The body is kept rather than the busy intervals, so any window or time zone can be read
    from it. Only bodies that parsed are stored; failures are never cached, so a calendar that
    was down is simply tried again next time. `clock` returns seconds (tests pass a fake one).
    At most `max_entries` feeds are kept, the least recently used dropped first.
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 512,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, url: str) -> bytes | None:
        """The cached body for `url` if it is younger than the TTL."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        stored_at, body = entry
        if self.clock() - stored_at >= self.ttl_seconds:
            del self._entries[url]
            return None
        self._entries.move_to_end(url)
        return body

    def put(self, url: str, body: bytes) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[url] = (self.clock(), body)
        self._entries.move_to_end(url)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# Feeds -------------------------------------------------------------------------------------


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
        raise _SourceProblem("malformed", "too large")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _SourceProblem("malformed", "too large")
    return bytes(body)


async def _fetch(url: str, session: aiohttp.ClientSession, *, allow_loopback: bool) -> bytes:
    """GET the feed, following at most MAX_REDIRECTS redirects, each checked first."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        current = await _check_at_fetch(current, allow_loopback=allow_loopback)
        async with session.get(
            current,
            allow_redirects=False,
            headers={"User-Agent": _USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
        ) as response:
            if response.status in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise _SourceProblem("refused", "redirect without a location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise _SourceProblem("refused", f"HTTP {response.status}")
            return await _read_capped(response)
    raise _SourceProblem("refused", "too many redirects")


def _client_problem(exc: BaseException) -> Problem:
    """The problem code for an aiohttp client failure."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ForbiddenAddress):
            return "not_allowed"
        cause = cause.__cause__
    return "unreachable"


async def busy_from_feed(
    url: str,
    window_start: datetime,
    window_end: datetime,
    *,
    time_zone: str,
    timeout: float,
    cache: FeedCache | None,
    allow_loopback: bool,
    session: aiohttp.ClientSession | None = None,
) -> CalendarResult:
    """Interval times from a published iCalendar feed; never raises because of the feed.

    The whole read (redirects, download, parsing) is bounded by `timeout` seconds. A shared
    `session` should come from `calendar_session` (guarded resolver, no cookies); without one
    such a session is made for the call.
    """
    _check_request(window_start, window_end, time_zone)
    own_session: aiohttp.ClientSession | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                normalized, _host = _normalize(url)
            except InvalidInput:
                return CalendarResult.unknown("not_allowed")
            body = cache.get(normalized) if cache is not None else None
            fetched = body is None
            if body is None:
                if session is None:
                    session = own_session = calendar_session(allow_loopback=allow_loopback)
                body = await _fetch(normalized, session, allow_loopback=allow_loopback)
            busy = await asyncio.to_thread(busy_from_ics, body, window_start, window_end, time_zone)
            if fetched and cache is not None:
                cache.put(normalized, body)
            return CalendarResult(busy=busy, known=True)
    except TimeoutError:
        return _unknown("timeout", url)
    except _SourceProblem as exc:
        return _unknown(exc.problem, url, exc)
    except MalformedCalendar as exc:
        return _unknown("malformed", url, exc)
    except aiohttp.ClientError as exc:
        return _unknown(_client_problem(exc), url, exc)
    except Exception as exc:  # never let one calendar stop scheduling
        log.error("unexpected failure reading a calendar feed: %s", describe(exc))
        return _unknown("unreachable", url, exc)
    finally:
        if own_session is not None:
            await own_session.close()


def _unknown(problem: Problem, url: str, exc: BaseException | None = None) -> CalendarResult:
    # Calendar addresses often carry a secret token, and library errors quote them: log only
    # the host, our own detail, or the kind of error.
    host = urlsplit(url).hostname if url else None
    detail = str(exc) if isinstance(exc, _SourceProblem | MalformedCalendar) else type(exc).__name__
    log.info("calendar at %s not read: %s (%s)", host, problem, detail if exc else "-")
    return CalendarResult.unknown(problem)


# CalDAV -------------------------------------------------------------------------------------


def _guarded_sync_resolver(allow_loopback: bool) -> Any:
    """A niquests resolver that refuses forbidden addresses for every connection (and
    redirect) the CalDAV client makes. Its class records a refusal in `refused`, which
    survives niquests recycling the resolver (it makes a new instance of the same class)."""
    from niquests.packages.urllib3.contrib.resolver.system import SystemResolver

    class GuardedSyncResolver(SystemResolver):  # type: ignore[misc]
        refused = False

        def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            infos = super().getaddrinfo(host, port, *args, **kwargs)
            addresses = _addresses(infos)
            if not addresses or not all(
                address_allowed(a, allow_loopback=allow_loopback) for a in addresses
            ):
                type(self).refused = True
                raise ForbiddenAddress(f"{host!r} resolves to a forbidden address")
            return infos

    return GuardedSyncResolver()


def _caldav_busy(
    url: str,
    username: str | None,
    password: str | None,
    window_start: datetime,
    window_end: datetime,
    time_zone: str,
    timeout: float,
    allow_loopback: bool,
    abandoned: threading.Event,
) -> list[Interval]:
    """Blocking: read the events in the window from one CalDAV calendar, or from all of a
    principal's calendars, and expand them with `busy_from_ics`. Raises `_SourceProblem`.

    Stops between requests once `abandoned` is set (the caller gave up waiting), so a slow
    server does not keep a worker thread busy for many timeouts after the answer is due."""
    import caldav
    import niquests
    from caldav.elements import dav
    from caldav.lib import error as caldav_error
    from lxml import etree

    resolver = _guarded_sync_resolver(allow_loopback)
    client = caldav.DAVClient(
        url=url, username=username, password=password, timeout=timeout, enable_rfc6764=False
    )
    # Our own HTTP session: the guarded resolver, no cookies, no .netrc credentials or
    # proxies from the environment, few redirects.
    client.session.close()
    client.session = niquests.Session(resolver=resolver, allow_incoming_cookies=False)
    client.session.trust_env = False
    client.session.max_redirects = MAX_REDIRECTS

    def still_wanted() -> None:
        if abandoned.is_set():
            raise _SourceProblem("timeout", "abandoned")

    try:
        target = client.calendar(url=url)
        kinds = target.get_properties([dav.ResourceType()]).get("{DAV:}resourcetype") or []
        still_wanted()
        calendars = [target] if CALDAV_CALENDAR in kinds else client.principal().calendars()
        intervals: list[Interval] = []
        for calendar in calendars:
            still_wanted()
            for item in calendar.search(start=window_start, end=window_end, event=True):
                intervals.extend(busy_from_ics(item.data, window_start, window_end, time_zone))
        return merge_busy(intervals)
    except (MalformedCalendar, _SourceProblem):
        raise
    except caldav_error.AuthorizationError as exc:
        raise _SourceProblem("refused", "not authorized") from exc
    except (niquests.exceptions.Timeout, TimeoutError) as exc:
        raise _SourceProblem("timeout") from exc
    except niquests.exceptions.TooManyRedirects as exc:
        raise _SourceProblem("refused", "too many redirects") from exc
    except (niquests.exceptions.ConnectionError, OSError) as exc:
        problem: Problem = "not_allowed" if type(resolver).refused else "unreachable"
        raise _SourceProblem(problem, type(exc).__name__) from exc
    except caldav_error.DAVError as exc:
        problem = "not_allowed" if type(resolver).refused else "refused"
        raise _SourceProblem(problem, type(exc).__name__) from exc
    except (etree.LxmlError, ValueError, KeyError, AttributeError) as exc:
        raise _SourceProblem("malformed", type(exc).__name__) from exc
    finally:
        client.close()


async def busy_from_caldav(
    url: str,
    username: str | None,
    password: str | None,
    window_start: datetime,
    window_end: datetime,
    *,
    time_zone: str,
    timeout: float,
    allow_loopback: bool,
) -> CalendarResult:
    """Interval times from a CalDAV account (all the principal's calendars) or one calendar URL.

    The synchronous `caldav` client runs in a thread under `timeout`; never raises because of
    the server. Only CalDAV's own authentication is sent.
    """
    _check_request(window_start, window_end, time_zone)
    abandoned = threading.Event()
    try:
        async with asyncio.timeout(timeout):
            normalized = await _check_at_fetch(url, allow_loopback=allow_loopback)
            busy = await asyncio.to_thread(
                _caldav_busy,
                normalized,
                username,
                password,
                _as_utc(window_start, "window_start"),
                _as_utc(window_end, "window_end"),
                time_zone,
                timeout,
                allow_loopback,
                abandoned,
            )
            return CalendarResult(busy=busy, known=True)
    except TimeoutError:
        return _unknown("timeout", url)
    except _SourceProblem as exc:
        return _unknown(exc.problem, url, exc)
    except MalformedCalendar as exc:
        return _unknown("malformed", url, exc)
    except Exception as exc:  # never let one calendar stop scheduling
        log.error("unexpected failure reading a CalDAV calendar: %s", describe(exc))
        return _unknown("unreachable", url, exc)
    finally:
        abandoned.set()


# Everyone at once ----------------------------------------------------------------------------


async def busy_from_source(
    source: CalendarSource | None,
    window_start: datetime,
    window_end: datetime,
    *,
    time_zone: str,
    timeout: float,
    cache: FeedCache | None,
    allow_loopback: bool,
    session: aiohttp.ClientSession | None = None,
) -> CalendarResult:
    """One participant's busy times from their feed and/or CalDAV account, read in parallel.

    No calendar configured gives `known=True, busy=[]`. With both, the result is known only
    if both were read; otherwise it is unknown with the first problem.
    """
    reads: list[Awaitable[CalendarResult]] = []
    if source is not None and source.feed_url:
        reads.append(
            busy_from_feed(
                source.feed_url,
                window_start,
                window_end,
                time_zone=time_zone,
                timeout=timeout,
                cache=cache,
                allow_loopback=allow_loopback,
                session=session,
            )
        )
    if source is not None and source.caldav_url:
        reads.append(
            busy_from_caldav(
                source.caldav_url,
                source.caldav_username,
                source.caldav_password,
                window_start,
                window_end,
                time_zone=time_zone,
                timeout=timeout,
                allow_loopback=allow_loopback,
            )
        )
    results = await asyncio.gather(*reads)
    for result in results:
        if not result.known:
            return result
    return CalendarResult(busy=merge_busy([b for r in results for b in r.busy]), known=True)


async def gather_busy(
    sources: Mapping[K, CalendarSource | None],
    window_start: datetime,
    window_end: datetime,
    *,
    time_zone: str,
    timeout: float,
    cache: FeedCache | None,
    allow_loopback: bool,
    session: aiohttp.ClientSession | None = None,
) -> dict[K, CalendarResult]:
    """Everyone's busy times, read concurrently: about one `timeout` at worst in total."""
    keys = list(sources)
    results = await asyncio.gather(
        *(
            busy_from_source(
                sources[key],
                window_start,
                window_end,
                time_zone=time_zone,
                timeout=timeout,
                cache=cache,
                allow_loopback=allow_loopback,
                session=session,
            )
            for key in keys
        )
    )
    return dict(zip(keys, results, strict=True))
