"""Interval times from real calendar sources: feeds over real HTTP on loopback, Radicale over
CalDAV, and the address rules that keep calendar reading away from private networks."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.calendars import (
    CREDENTIALS_IN_URL,
    NOT_A_CALENDAR_URL,
    PRIVATE_ADDRESS,
    PROBLEM_TEXTS,
    WRONG_SCHEME,
    CalendarResult,
    CalendarSource,
    FeedCache,
    ForbiddenAddress,
    GuardedResolver,
    IcsReading,
    MalformedCalendar,
    SkippedEntry,
    address_allowed,
    busy_from_caldav,
    busy_from_feed,
    busy_from_ics,
    calendar_session,
    check_calendar_url,
    gather_busy,
    merge_busy,
    problem_text,
    read_ics,
)
from scheduling.errors import InvalidInput
from scheduling.slots import Interval

from .calendar_servers import (
    FeedServer,
    RadicaleServer,
    big_feed,
    feed_server,
    free_port,
    radicale_server,
)

ZONE = "Europe/Helsinki"
WINDOW_START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 12, 1, tzinfo=UTC)
TIMEOUT = 0.3
MARGIN = 0.3  # how much longer than the timeout a timed-out read may take


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ics(*events: str, extra: str = "") -> bytes:
    """A VCALENDAR around the given VEVENT bodies (lines separated by newlines)."""
    parts = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Kerralla tests//EN", extra.strip()]
    for event in events:
        parts += ["BEGIN:VEVENT", event.strip(), "END:VEVENT"]
    parts.append("END:VCALENDAR")
    text = "\n".join(p for p in parts if p)
    return ("\r\n".join(line.strip() for line in text.splitlines()) + "\r\n").encode()


# A Windows time zone name with its VTIMEZONE, as Outlook publishes it.
OUTLOOK_ZONE = """
BEGIN:VTIMEZONE
TZID:FLE Standard Time
BEGIN:STANDARD
DTSTART:16010101T040000
TZOFFSETFROM:+0300
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0300
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""

MAIN_FEED = ics(
    # Weekly on Mondays 10-11 Helsinki time: 2 Mar skipped (EXDATE 9 Mar), 16 Mar moved to
    # Tuesday 17 Mar 12-13, 23 Mar cancelled, an extra RDATE on Friday 20 Mar 08:00; the
    # series crosses the spring DST change (29 Mar), so its UTC hour moves from 8 to 7.
    """
    UID:weekly@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20260302T100000
    DTEND;TZID=Europe/Helsinki:20260302T110000
    RRULE:FREQ=WEEKLY;COUNT=6
    EXDATE;TZID=Europe/Helsinki:20260309T100000
    RDATE;TZID=Europe/Helsinki:20260320T080000
    SUMMARY:Tiimipalaveri
    """,
    """
    UID:weekly@kerralla.test
    RECURRENCE-ID;TZID=Europe/Helsinki:20260316T100000
    DTSTART;TZID=Europe/Helsinki:20260317T120000
    DTEND;TZID=Europe/Helsinki:20260317T130000
    SUMMARY:Tiimipalaveri (siirretty)
    """,
    """
    UID:weekly@kerralla.test
    RECURRENCE-ID;TZID=Europe/Helsinki:20260323T100000
    DTSTART;TZID=Europe/Helsinki:20260323T100000
    DTEND;TZID=Europe/Helsinki:20260323T110000
    STATUS:CANCELLED
    """,
    # Cancelled, transparent and Outlook-"free" events block nothing.
    """
    UID:cancelled@kerralla.test
    DTSTART:20260410T100000Z
    DTEND:20260410T110000Z
    STATUS:CANCELLED
    """,
    """
    UID:transparent@kerralla.test
    DTSTART:20260411T100000Z
    DTEND:20260411T110000Z
    TRANSP:TRANSPARENT
    """,
    """
    UID:free@kerralla.test
    DTSTART:20260412T100000Z
    DTEND:20260412T110000Z
    X-MICROSOFT-CDO-BUSYSTATUS:FREE
    """,
    # All-day: two days in summer (DTEND exclusive), and one winter day without DTEND.
    """
    UID:allday@kerralla.test
    DTSTART;VALUE=DATE:20260415
    DTEND;VALUE=DATE:20260417
    SUMMARY:Koulutus
    """,
    """
    UID:allday-one@kerralla.test
    DTSTART;VALUE=DATE:20261120
    SUMMARY:Lomapäivä
    """,
    # UTC, and an overlapping one that merges with it.
    """
    UID:utc@kerralla.test
    DTSTART:20260505T120000Z
    DTEND:20260505T130000Z
    """,
    """
    UID:overlap@kerralla.test
    DTSTART:20260505T123000Z
    DURATION:PT1H30M
    """,
    # Floating: local time in the meeting's zone (summer, +03).
    """
    UID:floating@kerralla.test
    DTSTART:20260506T140000
    DTEND:20260506T150000
    """,
    # TZID Helsinki in summer and in winter.
    """
    UID:summer@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20260615T090000
    DTEND;TZID=Europe/Helsinki:20260615T103000
    """,
    """
    UID:winter@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20261116T090000
    DTEND;TZID=Europe/Helsinki:20261116T103000
    """,
    # Outlook's Windows zone name with its own VTIMEZONE.
    """
    UID:outlook@kerralla.test
    DTSTART;TZID=FLE Standard Time:20260701T090000
    DTEND;TZID=FLE Standard Time:20260701T100000
    """,
    # Night shifts across the DST changes: spring (29 Mar) and autumn (25 Oct).
    """
    UID:spring-night@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20260328T230000
    DTEND;TZID=Europe/Helsinki:20260329T050000
    """,
    """
    UID:autumn-night@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20261024T220000
    DTEND;TZID=Europe/Helsinki:20261025T050000
    """,
    # Starts before the window: clipped to it.
    """
    UID:early@kerralla.test
    DTSTART:20260228T230000Z
    DTEND:20260301T010000Z
    """,
    # A task is not an event, and a moment without duration blocks nothing.
    """
    UID:moment@kerralla.test
    DTSTART:20260601T100000Z
    """,
    extra=OUTLOOK_ZONE,
).replace(
    b"BEGIN:VEVENT\r\nUID:moment",
    b"BEGIN:VTODO\r\nUID:todo@kerralla.test\r\nDTSTART:20260602T100000Z\r\n"
    b"DUE:20260602T120000Z\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:moment",
)

MAIN_BUSY = [
    Interval(utc(2026, 3, 1, 0), utc(2026, 3, 1, 1)),  # clipped at the window start
    Interval(utc(2026, 3, 2, 8), utc(2026, 3, 2, 9)),  # weekly, winter time
    Interval(utc(2026, 3, 17, 10), utc(2026, 3, 17, 11)),  # the moved instance
    Interval(utc(2026, 3, 20, 6), utc(2026, 3, 20, 7)),  # RDATE
    Interval(utc(2026, 3, 28, 21), utc(2026, 3, 29, 2)),  # spring night: 23 EET → 05 EEST
    Interval(utc(2026, 3, 30, 7), utc(2026, 3, 30, 8)),  # weekly, summer time
    Interval(utc(2026, 4, 6, 7), utc(2026, 4, 6, 8)),
    Interval(utc(2026, 4, 14, 21), utc(2026, 4, 16, 21)),  # all-day 15-16 Apr, local days
    Interval(utc(2026, 5, 5, 12), utc(2026, 5, 5, 14)),  # UTC + overlapping, merged
    Interval(utc(2026, 5, 6, 11), utc(2026, 5, 6, 12)),  # floating 14-15 local
    Interval(utc(2026, 6, 15, 6), utc(2026, 6, 15, 7, 30)),  # TZID summer
    Interval(utc(2026, 7, 1, 6), utc(2026, 7, 1, 7)),  # Outlook's FLE Standard Time
    Interval(utc(2026, 10, 24, 19), utc(2026, 10, 25, 3)),  # autumn night: 22 EEST → 05 EET
    Interval(utc(2026, 11, 16, 7), utc(2026, 11, 16, 8, 30)),  # TZID winter
    Interval(utc(2026, 11, 19, 22), utc(2026, 11, 20, 22)),  # all-day without DTEND
]

SIMPLE_FEED = ics(
    """
    UID:simple@kerralla.test
    DTSTART:20260505T120000Z
    DTEND:20260505T130000Z
    """
)
SIMPLE_BUSY = [Interval(utc(2026, 5, 5, 12), utc(2026, 5, 5, 13))]


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with feed_server({"main.ics": MAIN_FEED, "simple.ics": SIMPLE_FEED}) as server:
        yield server


async def read(
    url: str,
    *,
    timeout: float = 2.0,
    cache: FeedCache | None = None,
    allow_loopback: bool = True,
) -> CalendarResult:
    return await busy_from_feed(
        url,
        WINDOW_START,
        WINDOW_END,
        time_zone=ZONE,
        timeout=timeout,
        cache=cache,
        allow_loopback=allow_loopback,
    )


def unknown(problem: str) -> CalendarResult:
    return CalendarResult(busy=[], known=False, problem=problem)  # type: ignore[arg-type]


# Parsing and expanding --------------------------------------------------------------------


async def test_feed_over_http_gives_exact_utc_instants(feeds: FeedServer) -> None:
    result = await read(feeds.url("/feeds/main.ics"))
    assert result == CalendarResult(busy=MAIN_BUSY, known=True)
    for interval in result.busy:
        assert interval.start.tzinfo is UTC and interval.end.tzinfo is UTC


def test_busy_from_ics_clips_to_the_window_and_takes_str() -> None:
    busy = busy_from_ics(MAIN_FEED.decode(), utc(2026, 3, 2, 8, 30), utc(2026, 3, 17, 10, 15), ZONE)
    assert busy == [
        Interval(utc(2026, 3, 2, 8, 30), utc(2026, 3, 2, 9)),
        Interval(utc(2026, 3, 17, 10), utc(2026, 3, 17, 10, 15)),
    ]
    assert busy_from_ics(MAIN_FEED, WINDOW_END, WINDOW_START, ZONE) == []


def test_floating_and_all_day_times_follow_the_given_zone() -> None:
    data = ics(
        "UID:f\nDTSTART:20260506T140000\nDTEND:20260506T150000",
        "UID:d\nDTSTART;VALUE=DATE:20260507",
    )
    assert busy_from_ics(data, WINDOW_START, WINDOW_END, "UTC") == [
        Interval(utc(2026, 5, 6, 14), utc(2026, 5, 6, 15)),
        Interval(utc(2026, 5, 7), utc(2026, 5, 8)),
    ]
    assert busy_from_ics(data, WINDOW_START, WINDOW_END, "America/New_York") == [
        Interval(utc(2026, 5, 6, 18), utc(2026, 5, 6, 19)),
        Interval(utc(2026, 5, 7, 4), utc(2026, 5, 8, 4)),
    ]


def test_a_calendar_that_names_its_zone_keeps_its_floating_times_there() -> None:
    # Google's feeds say X-WR-TIMEZONE; recurring-ical-events applies it to floating times.
    data = ics(
        "UID:f\nDTSTART:20260506T140000\nDTEND:20260506T150000",
        "UID:d\nDTSTART;VALUE=DATE:20260507",
        extra="X-WR-TIMEZONE:America/New_York",
    )
    assert busy_from_ics(data, WINDOW_START, WINDOW_END, ZONE) == [
        Interval(utc(2026, 5, 6, 18), utc(2026, 5, 6, 19)),
        Interval(utc(2026, 5, 6, 21), utc(2026, 5, 7, 21)),  # all-day: the meeting's zone
    ]


def test_a_weekly_series_keeps_its_local_time_across_both_dst_changes() -> None:
    data = ics(
        """
        UID:w
        DTSTART;TZID=Europe/Helsinki:20260323T100000
        DTEND;TZID=Europe/Helsinki:20260323T110000
        RRULE:FREQ=WEEKLY;UNTIL=20261102T000000Z
        """
    )
    busy = busy_from_ics(data, WINDOW_START, WINDOW_END, ZONE)
    hours = {b.start.date().isoformat(): b.start.hour for b in busy}
    assert hours["2026-03-23"] == 8  # EET
    assert hours["2026-03-30"] == 7  # EEST
    assert hours["2026-10-19"] == 7
    assert hours["2026-10-26"] == 8  # EET again
    assert len(busy) == 32


def test_an_unknown_calendar_zone_leaves_floating_times_in_the_meetings_zone() -> None:
    data = ics(
        "UID:f\nDTSTART:20260506T140000\nDTEND:20260506T150000",
        extra="X-WR-TIMEZONE:Mars/Olympus_Mons",
    )
    assert busy_from_ics(data, WINDOW_START, WINDOW_END, ZONE) == [
        Interval(utc(2026, 5, 6, 11), utc(2026, 5, 6, 12)),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><body>Sign in</body></html>",
        b"BEGIN:VEVENT\r\nDTSTART:20260505T120000Z\r\nEND:VEVENT\r\n",
    ],
    ids=["empty", "html", "no-vcalendar"],
)
def test_malformed_calendars_raise_malformed(data: bytes) -> None:
    with pytest.raises(MalformedCalendar):
        busy_from_ics(data, WINDOW_START, WINDOW_END, ZONE)


def with_events(feed: bytes, *events: str) -> bytes:
    """`feed` with more VEVENTs at its end."""
    more = ics(*events)
    added = more[more.index(b"BEGIN:VEVENT") : more.rindex(b"END:VCALENDAR")]
    return feed.replace(b"END:VCALENDAR\r\n", added + b"END:VCALENDAR\r\n")


BROKEN_RDATE = """
    UID:broken-rdate@kerralla.test
    DTSTART;TZID=Europe/Helsinki:20260504T090000
    DTEND;TZID=Europe/Helsinki:20260504T100000
    RDATE:2026-05-11 klo 9
    SUMMARY:Koulutus
"""
YEAR_9999 = """
    UID:far@kerralla.test
    DTSTART;VALUE=DATE:99991231
    RRULE:FREQ=YEARLY
    SUMMARY:Vuosijuhla
"""
ONCE_IN_9999 = """
    UID:once-far@kerralla.test
    DTSTART;VALUE=DATE:99991231
    SUMMARY:Kaukana
"""
UNTIL_9999 = """
    UID:until-far@kerralla.test
    DTSTART;VALUE=DATE:20260601
    DTEND;VALUE=DATE:99991231
    SUMMARY:Loma
"""


def test_a_broken_entry_is_skipped_and_named_and_the_rest_is_read() -> None:
    # Events in 9999 that cannot touch the window are not even read; one that lasts until
    # then cannot be worked out.
    data = with_events(MAIN_FEED, BROKEN_RDATE, YEAR_9999, ONCE_IN_9999, UNTIL_9999)
    reading = read_ics(data, WINDOW_START, WINDOW_END, ZONE)
    assert reading.busy == MAIN_BUSY
    assert reading.skipped == [
        SkippedEntry("Koulutus", date(2026, 5, 4), "bad_date", "RDATE"),
        SkippedEntry("Loma", date(2026, 6, 1), "out_of_range"),
    ]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=SOMETIMES", ("bad_value", "RRULE")),
        ("FREQ=SECONDLY", ("too_frequent", "RRULE")),
        ("FREQ=MINUTELY", ("too_frequent", "RRULE")),
    ],
)
def test_a_recurrence_that_cannot_be_used_is_skipped(rule: str, reason: tuple[str, str]) -> None:
    data = with_events(
        SIMPLE_FEED, f"UID:r\nDTSTART:20260505T120000Z\nDTEND:20260505T120001Z\nRRULE:{rule}"
    )
    reading = read_ics(data, WINDOW_START, WINDOW_END, ZONE)
    assert reading.busy == SIMPLE_BUSY
    assert [(e.reason, e.property) for e in reading.skipped] == [reason]


def test_an_empty_calendar_is_known_and_free() -> None:
    assert busy_from_ics(ics(), WINDOW_START, WINDOW_END, ZONE) == []


def test_a_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        busy_from_ics(ics(), datetime(2026, 3, 1), WINDOW_END, ZONE)


intervals = st.lists(
    st.tuples(st.integers(0, 500), st.integers(1, 60)).map(
        lambda p: Interval(
            utc(2026, 5, 1) + timedelta(minutes=p[0]),
            utc(2026, 5, 1) + timedelta(minutes=p[0] + p[1]),
        )
    ),
    max_size=30,
)


@given(intervals)
def test_merged_intervals_are_sorted_disjoint_and_cover_the_same_minutes(
    given_intervals: list[Interval],
) -> None:
    merged = merge_busy(given_intervals)

    def minutes(items: list[Interval]) -> set[datetime]:
        covered: set[datetime] = set()
        for item in items:
            moment = item.start
            while moment < item.end:
                covered.add(moment)
                moment += timedelta(minutes=1)
        return covered

    assert minutes(merged) == minutes(given_intervals)
    assert all(a.end < b.start for a, b in itertools.pairwise(merged))


# Sources that fail ------------------------------------------------------------------------


async def test_a_slow_feed_times_out_within_the_timeout(feeds: FeedServer) -> None:
    began = time.monotonic()
    result = await read(feeds.url("/slow"), timeout=TIMEOUT)
    elapsed = time.monotonic() - began
    assert result == unknown("timeout")
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize("status", [404, 500, 401, 204])
async def test_an_http_error_is_refused(feeds: FeedServer, status: int) -> None:
    assert await read(feeds.url(f"/status/{status}")) == unknown("refused")


async def test_a_closed_port_is_unreachable() -> None:
    assert await read(f"http://127.0.0.1:{free_port()}/feed.ics") == unknown("unreachable")


async def test_an_unknown_host_is_unreachable() -> None:
    assert await read("https://kalenteri.invalid/feed.ics") == unknown("unreachable")


async def test_garbage_is_malformed(feeds: FeedServer) -> None:
    assert await read(feeds.url("/garbage")) == unknown("malformed")


async def test_an_oversize_body_is_malformed_without_reading_it_all(feeds: FeedServer) -> None:
    began = time.monotonic()
    assert await read(feeds.url("/huge")) == unknown("malformed")
    assert time.monotonic() - began < 2


def test_an_hourly_series_from_long_ago_is_skipped_and_a_recent_one_is_read() -> None:
    hourly = "UID:{uid}\nDTSTART:{start}T000000Z\nDTEND:{start}T000500Z\nRRULE:FREQ=HOURLY"
    old = hourly.format(uid="old", start="19000101")
    new = hourly.format(uid="new", start="20260220")
    data = with_events(ics(), old, new)
    began = time.thread_time()
    reading = read_ics(data, WINDOW_START, WINDOW_START + timedelta(hours=3), ZONE)
    assert time.thread_time() - began < 1.0  # walking every hour since 1900 takes seconds
    assert reading.skipped == [SkippedEntry("", date(1900, 1, 1), "too_frequent", "RRULE")]
    assert reading.busy == [
        Interval(WINDOW_START + timedelta(hours=h), WINDOW_START + timedelta(hours=h, minutes=5))
        for h in range(3)
    ]


async def test_a_broken_recurrence_over_http_is_skipped_and_told(feeds: FeedServer) -> None:
    feeds.feeds["broken.ics"] = with_events(
        SIMPLE_FEED, "UID:b\nDTSTART:20260505T120000Z\nRRULE:FREQ=WHENEVER\nSUMMARY:Tapaaminen"
    )
    assert await read(feeds.url("/feeds/broken.ics")) == CalendarResult(
        busy=SIMPLE_BUSY,
        known=True,
        skipped=(SkippedEntry("Tapaaminen", date(2026, 5, 5), "bad_value", "RRULE"),),
    )


# Cache --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_cache_reuses_a_success_within_the_ttl(feeds: FeedServer) -> None:
    clock = FakeClock()
    cache = FeedCache(900, clock=clock)
    url = feeds.url("/feeds/simple.ics")

    assert (await read(url, cache=cache)).busy == SIMPLE_BUSY
    clock.now += 899
    assert (await read(url, cache=cache)).busy == SIMPLE_BUSY
    assert feeds.requests["/feeds/simple.ics"] == 1

    clock.now += 1
    assert (await read(url, cache=cache)).busy == SIMPLE_BUSY
    assert feeds.requests["/feeds/simple.ics"] == 2


async def test_the_cache_serves_other_windows_from_the_same_body(feeds: FeedServer) -> None:
    cache = FeedCache(900, clock=FakeClock())
    url = feeds.url("/feeds/main.ics")
    await read(url, cache=cache)
    narrow = await busy_from_feed(
        url,
        utc(2026, 5, 1),
        utc(2026, 5, 31),
        time_zone=ZONE,
        timeout=2,
        cache=cache,
        allow_loopback=True,
    )
    assert narrow.busy == [b for b in MAIN_BUSY if b.start.month == 5]
    assert feeds.requests["/feeds/main.ics"] == 1


async def test_failures_are_not_cached(feeds: FeedServer) -> None:
    cache = FeedCache(900, clock=FakeClock())
    url = feeds.url("/feeds/later.ics")
    assert await read(url, cache=cache) == unknown("refused")
    feeds.feeds["later.ics"] = b"not a calendar"
    assert await read(url, cache=cache) == unknown("malformed")
    feeds.feeds["later.ics"] = SIMPLE_FEED
    assert (await read(url, cache=cache)).busy == SIMPLE_BUSY
    assert feeds.requests["/feeds/later.ics"] == 3
    assert len(cache) == 1


def test_a_zero_ttl_caches_nothing() -> None:
    cache = FeedCache(0)
    cache.put("https://example.fi/a.ics", b"x")
    assert cache.get("https://example.fi/a.ics") is None


def test_the_cache_drops_the_least_recently_used() -> None:
    cache = FeedCache(900, clock=FakeClock(), max_entries=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")


# Addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://calendar.example.fi/feed.ics", WRONG_SCHEME),
        ("file:///etc/passwd", WRONG_SCHEME),
        ("javascript:alert(1)", WRONG_SCHEME),
        ("http://127.0.0.1/x", PRIVATE_ADDRESS),
        ("http://127.0.0.1:8080/x", PRIVATE_ADDRESS),
        ("http://10.0.0.1/", PRIVATE_ADDRESS),
        ("http://192.168.1.20/cal.ics", PRIVATE_ADDRESS),
        ("http://172.16.5.4/", PRIVATE_ADDRESS),
        ("http://100.64.0.1/", PRIVATE_ADDRESS),
        ("http://[::1]/", PRIVATE_ADDRESS),
        ("http://169.254.169.254/latest/meta-data/", PRIVATE_ADDRESS),
        ("http://[::ffff:127.0.0.1]/", PRIVATE_ADDRESS),
        ("http://[::ffff:10.0.0.1]/", PRIVATE_ADDRESS),
        ("http://[fe80::1]/", PRIVATE_ADDRESS),
        ("http://[fd00::1]/", PRIVATE_ADDRESS),
        ("http://[2002:a00:1::]/", PRIVATE_ADDRESS),
        ("http://0.0.0.0/", PRIVATE_ADDRESS),
        ("http://224.0.0.1/", PRIVATE_ADDRESS),
        ("http://localhost/cal.ics", PRIVATE_ADDRESS),
        ("http://2130706433/", PRIVATE_ADDRESS),  # 127.0.0.1 as a number
        ("http:///feed.ics", NOT_A_CALENDAR_URL),
        ("https://", NOT_A_CALENDAR_URL),
        ("calendar.example.fi/feed.ics", WRONG_SCHEME),
        ("", NOT_A_CALENDAR_URL),
        ("https://calendar.example.fi/a b.ics", NOT_A_CALENDAR_URL),
        ("https://calendar.example.fi:99999/", NOT_A_CALENDAR_URL),
        ("https://sari:salasana@calendar.example.fi/feed.ics", CREDENTIALS_IN_URL),
    ],
)
def test_addresses_kerralla_may_not_read_are_refused_at_entry(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_calendar_url(url, allow_loopback=False)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("webcal://calendar.example.fi/feed.ics", "https://calendar.example.fi/feed.ics"),
        ("WEBCALS://Calendar.Example.FI/x.ics?k=1#top", "https://calendar.example.fi/x.ics?k=1"),
        (
            "  https://outlook.office365.com/owa/calendar/abc/reachcalendar.ics  ",
            "https://outlook.office365.com/owa/calendar/abc/reachcalendar.ics",
        ),
        ("http://8.8.8.8/cal", "http://8.8.8.8/cal"),
        ("https://[2606:4700::1]:8443", "https://[2606:4700::1]:8443/"),
    ],
)
def test_public_addresses_are_accepted_and_normalized(url: str, normalized: str) -> None:
    assert check_calendar_url(url, allow_loopback=False) == normalized


def test_allow_loopback_allows_loopback_only() -> None:
    assert check_calendar_url("http://127.0.0.1:8080/x", allow_loopback=True)
    assert check_calendar_url("http://[::1]/x", allow_loopback=True)
    assert check_calendar_url("http://localhost/x", allow_loopback=True)
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/"):
        with pytest.raises(InvalidInput):
            check_calendar_url(url, allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("::ffff:169.254.169.254", False),
        ("::127.0.0.1", False),
        ("2001::1", False),  # Teredo
        ("ff02::1", False),
        ("239.1.1.1", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("::", False),
    ],
)
def test_address_classes(address: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_loopback=False) is allowed


async def test_fetch_time_refuses_loopback_without_sending_a_request(feeds: FeedServer) -> None:
    assert await read(feeds.url("/feeds/simple.ics"), allow_loopback=False) == unknown(
        "not_allowed"
    )
    port = feeds.base_url.rsplit(":", 1)[1]
    localhost = f"http://localhost:{port}/feeds/simple.ics"
    assert await read(localhost, allow_loopback=False) == unknown("not_allowed")
    assert sum(feeds.requests.values()) == 0
    assert (await read(localhost, allow_loopback=True)).busy == SIMPLE_BUSY


@pytest.mark.parametrize(
    "url", ["ftp://calendar.example.fi/x.ics", "file:///etc/passwd", "http:///x.ics"]
)
async def test_fetch_time_refuses_what_entry_refuses(url: str) -> None:
    assert await read(url) == unknown("not_allowed")


async def test_a_redirect_to_an_allowed_address_is_followed(feeds: FeedServer) -> None:
    assert (await read(feeds.url("/redirect?to=/feeds/simple.ics"))).busy == SIMPLE_BUSY


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/feed.ics",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "http://[::ffff:192.168.0.1]/x",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_a_forbidden_address_is_not_followed(
    feeds: FeedServer, target: str
) -> None:
    began = time.monotonic()
    assert await read(feeds.url(f"/redirect?to={target}")) == unknown("not_allowed")
    assert time.monotonic() - began < 1  # refused before any connection attempt
    assert feeds.requests == {"/redirect": 1}


async def test_endless_redirects_are_refused(feeds: FeedServer) -> None:
    assert await read(feeds.url("/loop")) == unknown("refused")
    assert feeds.requests["/loop"] == 4  # the address and three redirects


async def test_the_guarded_resolver_refuses_names_of_forbidden_addresses() -> None:
    with pytest.raises(ForbiddenAddress):
        await GuardedResolver(allow_loopback=False).resolve("localhost", 80)
    found = await GuardedResolver(allow_loopback=True).resolve("localhost", 80)
    assert {r["host"] for r in found} <= {"127.0.0.1", "::1"}


async def test_a_shared_session_is_guarded_too(feeds: FeedServer) -> None:
    port = feeds.base_url.rsplit(":", 1)[1]
    async with calendar_session(allow_loopback=True) as session:
        result = await busy_from_feed(
            f"http://localhost:{port}/feeds/simple.ics",
            WINDOW_START,
            WINDOW_END,
            time_zone=ZONE,
            timeout=2,
            cache=None,
            allow_loopback=True,
            session=session,
        )
        assert result.busy == SIMPLE_BUSY
        assert not session.closed
    assert feeds.requests["/feeds/simple.ics"] == 1


# CalDAV against Radicale ----------------------------------------------------------------------

CALDAV_EVENTS = {
    "weekly": """
        UID:caldav-weekly@kerralla.test
        DTSTART;TZID=Europe/Helsinki:20260302T100000
        DTEND;TZID=Europe/Helsinki:20260302T110000
        RRULE:FREQ=WEEKLY;COUNT=5
        EXDATE;TZID=Europe/Helsinki:20260309T100000
        SUMMARY:Viikkopalaveri
        """,
    "allday": """
        UID:caldav-allday@kerralla.test
        DTSTART;VALUE=DATE:20260415
        DTEND;VALUE=DATE:20260416
        SUMMARY:Koulutuspäivä
        """,
    "transparent": """
        UID:caldav-free@kerralla.test
        DTSTART:20260320T100000Z
        DTEND:20260320T110000Z
        TRANSP:TRANSPARENT
        """,
    "cancelled": """
        UID:caldav-cancelled@kerralla.test
        DTSTART:20260321T100000Z
        DTEND:20260321T110000Z
        STATUS:CANCELLED
        """,
    "started-last-year": """
        UID:caldav-old-weekly@kerralla.test
        DTSTART:20250106T140000Z
        DTEND:20250106T150000Z
        RRULE:FREQ=WEEKLY;UNTIL=20260310T000000Z
        """,
    "outside": """
        UID:caldav-outside@kerralla.test
        DTSTART:20270110T100000Z
        DTEND:20270110T110000Z
        """,
}
SECOND_CALENDAR_EVENT = """
    UID:caldav-second@kerralla.test
    DTSTART:20260505T120000Z
    DTEND:20260505T130000Z
    """

CALDAV_WORK_BUSY = [
    Interval(utc(2026, 3, 2, 8), utc(2026, 3, 2, 9)),
    Interval(utc(2026, 3, 2, 14), utc(2026, 3, 2, 15)),  # a series that began in 2025
    Interval(utc(2026, 3, 9, 14), utc(2026, 3, 9, 15)),
    Interval(utc(2026, 3, 16, 8), utc(2026, 3, 16, 9)),
    Interval(utc(2026, 3, 23, 8), utc(2026, 3, 23, 9)),
    Interval(utc(2026, 3, 30, 7), utc(2026, 3, 30, 8)),  # after the DST change
    Interval(utc(2026, 4, 14, 21), utc(2026, 4, 15, 21)),
]
CALDAV_ALL_BUSY = [*CALDAV_WORK_BUSY, Interval(utc(2026, 5, 5, 12), utc(2026, 5, 5, 13))]


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """One Radicale for the module, with two calendars for the user and events in them."""
    with radicale_server(tmp_path_factory.mktemp("radicale")) as server:
        client = caldav.DAVClient(
            url=server.url,
            username=server.username,
            password=server.password,
            enable_rfc6764=False,
        )
        with client:
            principal = client.principal()
            work = principal.make_calendar(name="Työ", cal_id="work")
            for body in CALDAV_EVENTS.values():
                work.save_event(ics(body).decode())
            other = principal.make_calendar(name="Muut", cal_id="other")
            other.save_event(ics(SECOND_CALENDAR_EVENT).decode())
        yield server


async def read_caldav(
    url: str,
    username: str = "sari",
    password: str = "salasana",
    *,
    timeout: float = 5.0,
    allow_loopback: bool = True,
) -> CalendarResult:
    return await busy_from_caldav(
        url,
        username,
        password,
        WINDOW_START,
        WINDOW_END,
        time_zone=ZONE,
        timeout=timeout,
        allow_loopback=allow_loopback,
    )


async def test_caldav_reads_all_of_the_principals_calendars(radicale: RadicaleServer) -> None:
    assert await read_caldav(radicale.url) == CalendarResult(busy=CALDAV_ALL_BUSY, known=True)


async def test_caldav_reads_one_calendar_by_its_url(radicale: RadicaleServer) -> None:
    result = await read_caldav(f"{radicale.url}sari/work/")
    assert result == CalendarResult(busy=CALDAV_WORK_BUSY, known=True)


async def test_caldav_with_a_wrong_password_is_refused(radicale: RadicaleServer) -> None:
    assert await read_caldav(radicale.url, password="väärä") == unknown("refused")


async def test_caldav_on_a_missing_calendar_is_refused(radicale: RadicaleServer) -> None:
    assert await read_caldav(f"{radicale.url}sari/nothing/") == unknown("refused")


async def test_caldav_on_loopback_is_not_allowed_without_the_setting(
    radicale: RadicaleServer,
) -> None:
    assert await read_caldav(radicale.url, allow_loopback=False) == unknown("not_allowed")
    port = radicale.url.rstrip("/").rsplit(":", 1)[1]
    assert await read_caldav(f"http://localhost:{port}/", allow_loopback=False) == unknown(
        "not_allowed"
    )


async def test_caldav_on_a_stopped_server_is_unreachable(tmp_path: Path) -> None:
    with radicale_server(tmp_path / "stopped") as server:
        server.stop()
        assert await read_caldav(server.url) == unknown("unreachable")


async def test_caldav_that_does_not_answer_times_out(feeds: FeedServer) -> None:
    began = time.monotonic()
    assert await read_caldav(feeds.url("/slow"), timeout=TIMEOUT) == unknown("timeout")
    assert time.monotonic() - began < TIMEOUT + MARGIN


@pytest.mark.parametrize(
    "target", ["http://10.0.0.1/dav/", "http://169.254.169.254/latest/", "http://[fe80::1]/"]
)
async def test_caldav_does_not_follow_a_redirect_to_a_forbidden_address(
    feeds: FeedServer, target: str
) -> None:
    # The first address is allowed (loopback, in tests): the refusal comes from the resolver
    # that guards every connection the CalDAV client makes, redirects included.
    began = time.monotonic()
    assert await read_caldav(feeds.url(f"/redirect?to={target}")) == unknown("not_allowed")
    assert time.monotonic() - began < 1
    assert feeds.requests == {"/redirect": 1}


async def test_caldav_that_is_not_caldav_is_refused(feeds: FeedServer) -> None:
    assert await read_caldav(feeds.url("/feeds/simple.ics")) == unknown("refused")


# Everyone at once -----------------------------------------------------------------------------


async def test_gather_reads_everyone_in_about_one_timeout(
    feeds: FeedServer, radicale: RadicaleServer
) -> None:
    sources = {
        "sari": CalendarSource(feed_url=feeds.url("/feeds/simple.ics")),
        "mikko": CalendarSource(feed_url=feeds.url("/slow")),
        "aino": CalendarSource(),
        "ville": None,
        "leena": CalendarSource(
            caldav_url=f"{radicale.url}sari/other/",
            caldav_username=radicale.username,
            caldav_password=radicale.password,
        ),
        "both": CalendarSource(
            feed_url=feeds.url("/feeds/simple.ics"),
            caldav_url=f"{radicale.url}sari/work/",
            caldav_username=radicale.username,
            caldav_password=radicale.password,
        ),
    }
    began = time.monotonic()
    results = await gather_busy(
        sources,
        WINDOW_START,
        WINDOW_END,
        time_zone=ZONE,
        timeout=TIMEOUT + 0.2,
        cache=FeedCache(900),
        allow_loopback=True,
    )
    elapsed = time.monotonic() - began
    assert elapsed < TIMEOUT + 0.2 + MARGIN
    assert results == {
        "sari": CalendarResult(busy=SIMPLE_BUSY, known=True),
        "mikko": unknown("timeout"),
        "aino": CalendarResult(busy=[], known=True),
        "ville": CalendarResult(busy=[], known=True),
        "leena": CalendarResult(busy=SIMPLE_BUSY, known=True),
        "both": CalendarResult(
            busy=sorted([*CALDAV_WORK_BUSY, *SIMPLE_BUSY], key=lambda i: i.start), known=True
        ),
    }


async def test_one_bad_source_makes_that_participant_unknown(feeds: FeedServer) -> None:
    results = await gather_busy(
        {"x": CalendarSource(feed_url=feeds.url("/feeds/simple.ics"), caldav_url="ftp://x/")},
        WINDOW_START,
        WINDOW_END,
        time_zone=ZONE,
        timeout=1,
        cache=None,
        allow_loopback=True,
    )
    assert results == {"x": unknown("not_allowed")}


# Texts --------------------------------------------------------------------------------------


def test_every_problem_has_a_text_with_the_name() -> None:
    for problem in ("timeout", "unreachable", "refused", "malformed", "not_allowed"):
        text = problem_text(problem)
        assert text is PROBLEM_TEXTS[problem]
        assert "{name}" in text and text.format(name="Sari")
    assert "{name}" in problem_text(None)
    assert "CalendarSource" in repr(CalendarSource(caldav_password="salasana"))
    assert "salasana" not in repr(CalendarSource(caldav_password="salasana"))


# Reading only what can touch the window ---------------------------------------------------------

CUT_START, CUT_END = utc(2026, 6, 1, 6), utc(2026, 6, 15, 6)
RULES = [
    None,
    "FREQ=DAILY;COUNT={n}",
    "FREQ=DAILY;INTERVAL=3;COUNT={n}",
    "FREQ=WEEKLY;COUNT={n}",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT={n}",
    "FREQ=WEEKLY;UNTIL=20260603T000000Z",
    "FREQ=MONTHLY;BYMONTHDAY=31;COUNT={n}",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT={n}",
    "FREQ=DAILY;BYHOUR=9,15;COUNT={n}",
]
events = st.builds(
    lambda day, minute, length, form, rule, n: (day, minute, length, form, rule, n),
    st.integers(-800, 60),  # days from 1 Jun 2026
    st.integers(0, 24 * 60 - 1),
    st.integers(0, 4 * 24 * 60),  # minutes; days for all-day events
    st.sampled_from(["utc", "helsinki", "floating", "date", "date-no-end"]),
    st.sampled_from(RULES),
    st.integers(1, 60),
)


def event_text(number: int, spec: tuple[int, int, int, str, str | None, int]) -> str:
    day, minute, length, form, rule, n = spec
    begin = datetime(2026, 6, 1) + timedelta(days=day, minutes=minute)
    lines = [f"UID:e{number}"]
    if form.startswith("date"):
        lines.append(f"DTSTART;VALUE=DATE:{begin:%Y%m%d}")
        if form == "date":
            lines.append(f"DTEND;VALUE=DATE:{begin + timedelta(days=1 + length % 5):%Y%m%d}")
    else:
        end = begin + timedelta(minutes=length)
        prefix, suffix = {"utc": (":", "Z"), "helsinki": (";TZID=Europe/Helsinki:", ""),
                          "floating": (":", "")}[form]  # fmt: skip
        lines.append(f"DTSTART{prefix}{begin:%Y%m%dT%H%M%S}{suffix}")
        lines.append(f"DTEND{prefix}{end:%Y%m%dT%H%M%S}{suffix}")
    if rule is not None:
        lines.append("RRULE:" + rule.format(n=n))
    return "\n".join(lines)


def busy_of_whole_calendar(data: bytes, start: datetime, end: datetime) -> list[Interval]:
    """The busy times as the libraries give them for the whole calendar, nothing left out."""
    zone = ZoneInfo(ZONE)
    query = recurring_ical_events.of(icalendar.Calendar.from_ical(data))
    found = []
    for occurrence in query.between(start - timedelta(days=2), end + timedelta(days=2)):
        begin, finish = occurrence.start, occurrence.end
        begin, finish = (
            (value.replace(tzinfo=value.tzinfo or zone) if isinstance(value, datetime)
             else datetime.combine(value, datetime.min.time(), tzinfo=zone))
            for value in (begin, finish)
        )  # fmt: skip
        begin, finish = max(begin, start), min(finish, end)
        if finish > begin:
            found.append(Interval(begin.astimezone(UTC), finish.astimezone(UTC)))
    return merge_busy(found)


@settings(max_examples=60, deadline=None)
@given(st.lists(events, min_size=1, max_size=12))
def test_leaving_out_what_cannot_touch_the_window_changes_nothing(
    specs: list[tuple[int, int, int, str, str | None, int]],
) -> None:
    data = ics(*(event_text(number, spec) for number, spec in enumerate(specs)))
    reading = read_ics(data, CUT_START, CUT_END, ZONE)
    assert reading.skipped == []
    assert reading.busy == busy_of_whole_calendar(data, CUT_START, CUT_END)


def threads_reading_a_calendar() -> list[str]:
    """The threads (other than this one) now inside the calendar libraries or `read_ics`."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        for code in (f.f_code for f, _ in traceback.walk_stack(frame)):
            path = code.co_filename.replace("\\\\", "/")
            if (
                "/icalendar/" in path
                or "/recurring_ical_events/" in path
                or (code.co_name in {"read_ics", "busy_from_ics"})
            ):
                found.append(names.get(ident, str(ident)))
                break
    return found


async def test_a_read_given_up_stops_reading_the_calendar(feeds: FeedServer) -> None:
    # 16,000 events all within the window: several seconds of parsing, far over the timeout.
    feeds.feeds["big.ics"] = big_feed(first_day=date(2026, 3, 2), years=1)
    timeout = 1.0
    began = time.monotonic()
    assert await read(feeds.url("/feeds/big.ics"), timeout=timeout) == unknown("timeout")
    assert time.monotonic() - began < timeout + MARGIN
    for _ in range(100):  # two seconds at most for the reader to notice
        if not threads_reading_a_calendar():
            break
        await asyncio.sleep(0.02)
    assert threads_reading_a_calendar() == []


@pytest.mark.parametrize(
    "data",
    [
        ics(extra="BEGIN:VEVENT\nDTSTART:20260505T120000Z\n" * 100_000),
        ics(extra="BEGIN:VALARM\nX-A:1\n" * 200_000),
    ],
    ids=["unclosed-events", "stray-alarms"],
)
def test_megabytes_besides_events_are_malformed_at_once(data: bytes) -> None:
    began = time.thread_time()
    with pytest.raises(MalformedCalendar, match="besides events"):
        read_ics(data, WINDOW_START, WINDOW_END, ZONE)
    assert time.thread_time() - began < 1.0  # parsing it would take seconds


def test_an_event_of_thousands_of_lines_is_skipped_unread() -> None:
    nested = "BEGIN:VALARM\nACTION:DISPLAY\n" * 50_000 + "END:VALARM\n" * 50_000
    data = with_events(SIMPLE_FEED, f"UID:n\nDTSTART:20260505T150000Z\nSUMMARY:Iso\n{nested}")
    began = time.thread_time()
    reading = read_ics(data, WINDOW_START, WINDOW_END, ZONE)
    assert time.thread_time() - began < 1.0
    assert reading == IcsReading(SIMPLE_BUSY, [SkippedEntry("Iso", date(2026, 5, 5), "unreadable")])
