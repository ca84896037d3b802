"""Busy times from the calendars professionals already keep: published feeds and CalDAV.

A professional may give Kerralla a published calendar address (an `.ics` feed such as
Outlook's or Google's "publish calendar" link) or a CalDAV account. Before proposing times,
the scheduler reads each participant's calendar for the search window and gets back when they
are busy, as UTC instants:

- `read_ics` is the pure part: iCalendar bytes → merged busy intervals in the window, and the
  entries it had to skip (`busy_from_ics` gives the intervals only). Recurring events are
  expanded (RRULE, RDATE, EXDATE, moved or cancelled instances through RECURRENCE-ID);
  cancelled and transparent ("free") events do not block; all-day events block whole local
  days in the meeting's time zone. Floating times are local times in the calendar's own zone
  when it names one with X-WR-TIMEZONE (Google's exports do, and mean their floating times
  there), otherwise in the meeting's zone. Only events that may touch the window are parsed
  (a cut by text that never leaves out one that does), each on its own: an event that cannot
  be read or expanded is skipped and listed (`SkippedEntry`), and the rest of the calendar
  counts. The reading stops between events once its caller has given up.
- `busy_from_feed` and `busy_from_caldav` read one source; `gather_busy` reads everyone's at
  once. None of them ever raises because of the source: a slow, unreachable, refusing or
  malformed calendar gives `CalendarResult(known=False, problem=…)`, and `problem_text` says
  in plain words what the convener should know. Scheduling goes on without that calendar.
  A known result carries the skipped entries, which only their owner is shown (/kalenteri);
  the log gets their number and reasons, never their summaries.

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
import re
import socket
import threading
import time
from bisect import bisect_right
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
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

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
#: How long before the window an hourly series may start (see `_event_problem`).
HOURLY_LOOKBACK = timedelta(days=366)
#: How far around the window recurrences are expanded before clipping: covers any UTC offset.
_EXPANSION_MARGIN = timedelta(days=2)
#: The most text a calendar may hold besides its events, to-dos, journals and Windows zones
#: (its properties and time zones take a few kilobytes); parsed in one go, so it is bounded.
MAX_REST_CHARS = 1024 * 1024
#: The most lines one event may have (with its alarms, after unfolding): real ones have tens.
MAX_EVENT_LINES = 2_000
#: How much of a skipped entry's summary is kept to name it to its owner.
SUMMARY_CHARS = 40
#: Properties whose values are dates or times.
DATE_PROPERTIES = frozenset({"DTSTART", "DTEND", "DUE", "RDATE", "EXDATE", "RECURRENCE-ID"})
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

SkipReason = Literal["bad_date", "bad_value", "too_frequent", "out_of_range", "unreadable"]
# Why one entry of a calendar was skipped, told to the calendar's owner; {property} is the
# iCalendar property name (RDATE, RRULE, …).
SKIP_REASONS: dict[str, str] = {
    "bad_date": N_("{property} is not a valid date"),
    "bad_value": N_("{property} cannot be read"),
    "too_frequent": N_("it repeats too often"),
    "out_of_range": N_("its dates are out of range"),
    "unreadable": N_("it cannot be read"),
}


# Results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """One calendar entry left out because part of it could not be read.

    `summary` is the owner's own text (shortened): show it to them only, never log it.
    `day` is the day it starts as written, when that could be read."""

    summary: str
    day: date | None
    reason: SkipReason
    property: str | None = None


@dataclass(frozen=True, slots=True)
class IcsReading:
    """What `read_ics` read: merged busy intervals, and the entries it had to skip."""

    busy: list[Interval]
    skipped: list[SkippedEntry]


@dataclass(frozen=True, slots=True)
class CalendarResult:
    """What one participant's calendar says: busy intervals, or unknown with a problem code.

    A known result may list entries that were skipped because they could not be read."""

    busy: list[Interval] = field(default_factory=list)
    known: bool = True
    problem: Problem | None = None
    skipped: tuple[SkippedEntry, ...] = ()

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


def _instant(value: date | datetime, floating: ZoneInfo, days: ZoneInfo) -> datetime:
    """An iCalendar time as a UTC instant: floating times are local to `floating`, dates to
    `days`."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=floating)
        return value.astimezone(UTC)
    return datetime.combine(value, clock_time(), tzinfo=days).astimezone(UTC)


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


# Reading only what can touch the window: the text is cut into components first, and only the
# events that may have an occurrence near the window are parsed, each on its own, so that one
# broken event costs only itself. The cut is by text and errs on keeping: it never leaves out
# an event with an occurrence near the window (`_may_touch`).
_FOLD = re.compile(r"\r?\n[ \t]")
# The lines that open and close the components cut out (found in one pass, then paired in
# order, so that text without its END lines costs no more than any other).
_MARKER = re.compile(
    r"^(BEGIN|END):(VEVENT|VTODO|VJOURNAL|VFREEBUSY|VTIMEZONE)[ \t]*(?:\r?\n|\r?\Z)",
    re.MULTILINE | re.IGNORECASE,
)
_TZID = re.compile(r"^TZID[;:]([^\r\n]*)", re.MULTILINE | re.IGNORECASE)
_CALENDAR_START = re.compile(r"^BEGIN:VCALENDAR", re.MULTILINE | re.IGNORECASE)
_FIELD = re.compile(
    r"^(DTSTART|DTEND|DURATION|RRULE|RDATE|RECURRENCE-ID|SUMMARY)([;:][^\r\n]*)",
    re.MULTILINE | re.IGNORECASE,
)
_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WEEKDAYS = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})


@dataclass(slots=True)
class _Block:
    """One VEVENT as text: which VCALENDAR of the data it is in, and the first line of each
    property the cut looks at (name → parameters and value, as written)."""

    text: str
    calendar: int
    fields: dict[str, str]


def _split(text: str, check: Callable[[], None]) -> tuple[str, list[_Block]]:
    """(the text without its events, to-dos, journals and free/busy, the events as blocks).

    The definitions of Windows-named time zones (Outlook's "FLE Standard Time") are taken out
    too, so that icalendar reads those names as the IANA zones they stand for: the same rules,
    where the definition, rules from the year 1601 on, would cost a walk through four
    centuries for every time read. `check` is called every thousand components."""
    calendar_starts = [match.start() for match in _CALENDAR_START.finditer(text)]
    blocks: list[_Block] = []
    kept: list[str] = []
    copied = 0  # text before this has been either kept or cut
    open_kind, opened = "", 0
    for number, marker in enumerate(_MARKER.finditer(text)):
        if number % 1000 == 0:
            check()
        verb, kind = marker.group(1).upper(), marker.group(2).upper()
        if not open_kind:
            if verb == "BEGIN":
                open_kind, opened = kind, marker.start()
            continue
        if verb != "END" or kind != open_kind:
            continue  # nested or stray: left to the component around it
        component = text[opened : marker.end()]
        open_kind = ""
        if kind == "VTIMEZONE":
            tzid = _TZID.search(component)
            if (_field_value(tzid.group(1)).strip() if tzid else "") not in WINDOWS_TO_OLSON:
                continue  # a zone icalendar must read from its definition: left in place
        kept.append(text[copied:opened])
        copied = marker.end()
        if kind == "VEVENT":
            fields: dict[str, str] = {}
            for name, rest in _FIELD.findall(component):
                name = name.upper()
                # A second RRULE is left unread: the event is then always kept.
                fields[name] = "" if name == "RRULE" and name in fields else fields.get(name, rest)
            calendar = max(bisect_right(calendar_starts, opened) - 1, 0)
            blocks.append(_Block(component, calendar, fields))
    kept.append(text[copied:])
    return "".join(kept), blocks


def _field_value(rest: str) -> str:
    """The value of a property line's `rest` (";PARAM=…:value" or ":value")."""
    return rest[1:] if rest.startswith(":") else rest.split(":", 1)[-1]


def _day(value: str) -> date | None:
    """The day a date or date-time value names as written (20261203…), or None."""
    match = _DAY.match(value.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _field_day(rest: str | None) -> date | None:
    """The day a DTSTART/DTEND line names as written, or None if it cannot be read as text."""
    return None if rest is None else _day(rest.rsplit(":", 1)[-1])


def _last_start(rule: str, start: date) -> date | None:
    """A day after which a recurrence rule (the `rest` of its line) starts nothing, or None.

    Known for a rule with UNTIL (a day later, for any UTC offset), and for a COUNT of a plain
    daily or weekly rule (only INTERVAL, WKST and, weekly, plain BYDAY beside it), where every
    day or week of the interval holds at least one occurrence: COUNT + 1 of them are enough.
    Any other rule (monthly, yearly, BYSETPOS, …) may skip periods, and is not bounded here.
    """
    parts: dict[str, str] = {}
    for item in _field_value(rule).upper().split(";"):
        key, _, value = item.partition("=")
        parts[key.strip()] = value.strip()
    try:
        if "UNTIL" in parts:
            until = _day(parts["UNTIL"])
            return None if until is None else until + timedelta(days=1)
        frequency = parts.get("FREQ")
        allowed = {"FREQ", "COUNT", "INTERVAL", "WKST"} | (
            {"BYDAY"} if frequency == "WEEKLY" else set()
        )
        if (
            "COUNT" not in parts
            or frequency not in ("DAILY", "WEEKLY")
            or not parts.keys() <= allowed
        ):
            return None
        if "BYDAY" in parts and not set(parts["BYDAY"].split(",")) <= _WEEKDAYS:
            return None
        count, interval = int(parts["COUNT"]), int(parts.get("INTERVAL") or 1)
        if count < 0 or interval < 1:
            return None
        days = (count + 1) * interval * (7 if frequency == "WEEKLY" else 1)
        return start + timedelta(days=days)
    except (ValueError, OverflowError):
        return None


def _may_touch(fields: Mapping[str, str], first: date, last: date) -> bool:
    """Whether an event may have an occurrence between the days `first` and `last`, judged by
    its text alone (`first` and `last` already carry a margin for any UTC offset).

    Exact, in that no event with an occurrence on those days is ever left out: an event with
    RDATE or RECURRENCE-ID, a duration, or dates or a rule that cannot be read is kept; an
    event (or series: no occurrence starts before DTSTART) starting after `last`, or ending
    before `first` (a series: its last start known by `_last_start`, plus its length) is not.
    """
    if "RDATE" in fields or "RECURRENCE-ID" in fields:
        return True
    start = _field_day(fields.get("DTSTART"))
    if start is None:
        return True
    if start > last:
        return False
    if "DURATION" in fields:
        return True
    end = _field_day(fields["DTEND"]) if "DTEND" in fields else start
    if end is None:
        return True
    if "RRULE" in fields:
        final = _last_start(fields["RRULE"], start)
        if final is None:
            return True
        try:
            end = final + max(end - start, timedelta(0))
        except OverflowError:
            return True
    return max(start, end) >= first


def _clean_summary(text: str) -> str:
    """An entry's summary as one short line (it is only ever shown to the calendar's owner)."""
    words = "".join(ch if ch.isprintable() else " " for ch in text).split()
    line = " ".join(words)
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1].rstrip() + "…"


def _text_summary(block: _Block) -> str:
    rest = block.fields.get("SUMMARY")
    if rest is None:
        return ""
    value = _field_value(rest)
    for escaped, plain in (("\\n", " "), ("\\N", " "), ("\\,", ","), ("\\;", ";"), ("\\\\", "\\")):
        value = value.replace(escaped, plain)
    return _clean_summary(value)


def _entry(
    event: icalendar.cal.Component | None,
    block: _Block | None,
    reason: SkipReason,
    prop: str | None = None,
) -> SkippedEntry:
    """A skipped entry, named by its summary and start day as far as they can be read."""
    summary, day = "", None
    if event is not None:
        summary = _clean_summary(str(event.get("SUMMARY", "")))
        try:
            start = event.get("DTSTART").dt
            day = start if isinstance(start, date) else None
        except Exception:  # no DTSTART, or a broken one: no day to show
            day = None
    elif block is not None:
        summary, day = _text_summary(block), _field_day(block.fields.get("DTSTART"))
    if isinstance(day, datetime):
        day = day.date()
    return SkippedEntry(summary=summary, day=day, reason=reason, property=prop)


def _event_problem(
    event: icalendar.cal.Component, hourly_from: date
) -> tuple[SkipReason, str] | None:
    """Why a parsed event cannot be used, with the property to blame, or None.

    An hourly series that starts before `hourly_from` counts as too frequent: the library
    walks every hour from its start in one call that cannot be stopped (from 1900: seconds).
    """
    if event.errors:
        name = str(event.errors[0][0]).upper()
        return ("bad_date" if name in DATE_PROPERTIES else "bad_value"), name
    rules = event.get("RRULE", [])
    for rule in rules if isinstance(rules, list) else [rules]:
        try:
            frequencies = {str(f).upper() for f in rule.get("FREQ", [])}
        except Exception:  # icalendar keeps broken values as vBroken
            return "bad_value", "RRULE"
        if frequencies & REFUSED_FREQUENCIES:
            return "too_frequent", "RRULE"
        if "HOURLY" in frequencies:
            start = getattr(event.get("DTSTART"), "dt", None)
            if isinstance(start, date) and _as_day(start) < hourly_from:
                return "too_frequent", "RRULE"
    return None


def _as_day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _expansion_problem(exc: Exception) -> SkipReason:
    if isinstance(exc, OverflowError) or "out of range" in str(exc):
        return "out_of_range"
    return "unreadable"


def _calendar_zone(calendar: icalendar.Calendar) -> ZoneInfo | None:
    """The zone a calendar names for itself (X-WR-TIMEZONE, as in Google's exports), if known."""
    name = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # unknown or not a zone name: ignored
        return None


def _calendars_in(
    text: str, check: Callable[[], None]
) -> tuple[list[icalendar.Calendar], list[_Block]]:
    """The VCALENDARs of `text` without their events, and the events as text blocks."""
    skeleton, blocks = _split(text, check)
    if len(skeleton) > MAX_REST_CHARS:
        # Not a calendar of events; and icalendar would read it for seconds, beyond recall.
        raise MalformedCalendar("too much besides events")
    try:
        calendars = icalendar.Calendar.from_ical(skeleton, multiple=True)
    except Exception as exc:  # icalendar raises ValueError and friends on anything odd
        raise MalformedCalendar(f"not iCalendar ({type(exc).__name__})") from exc
    if not calendars or any(c.name != "VCALENDAR" for c in calendars):
        raise MalformedCalendar("not a VCALENDAR")
    return list(calendars), blocks


def _never() -> bool:
    return False


def read_ics(
    data: bytes | str,
    window_start: datetime,
    window_end: datetime,
    time_zone: str | ZoneInfo,
    *,
    should_stop: Callable[[], bool] = _never,
) -> IcsReading:
    """Merged busy intervals of the iCalendar `data` within [window_start, window_end), and the
    entries left out because part of them could not be read.

    Times come out as aware UTC datetimes, clipped to the window. Floating times are local
    times in the calendar's own zone when it names one with X-WR-TIMEZONE (Google's exports
    do, and mean their floating times there), otherwise in `time_zone`; all-day events block
    whole local days in `time_zone`. Only events that may touch the window are parsed. An
    event that cannot be read is skipped and listed; the data as a whole raises
    `MalformedCalendar` only when it is not an iCalendar, holds more than MAX_REST_CHARS
    besides its events, or expands to more than MAX_OCCURRENCES occurrences. `should_stop` is
    asked between events and occurrences; once it answers True the reading stops with
    `_SourceProblem("timeout")`.
    """
    zone = _zone(time_zone)
    start_utc, end_utc = _as_utc(window_start, "window_start"), _as_utc(window_end, "window_end")
    if end_utc <= start_utc:
        return IcsReading(busy=[], skipped=[])
    # Expand a little around the window in local time, then clip exactly: floating events
    # are compared by the library in whatever zone it likes.
    span_start = start_utc.astimezone(zone) - _EXPANSION_MARGIN
    span_end = end_utc.astimezone(zone) + _EXPANSION_MARGIN
    first, last = span_start.date() - timedelta(days=1), span_end.date() + timedelta(days=1)

    def check() -> None:
        if should_stop():
            raise _SourceProblem("timeout", "abandoned")

    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    calendars, blocks = _calendars_in(_FOLD.sub("", text), check)

    skipped: list[SkippedEntry] = []
    # Events the cut did not take out of the text (unusual spelling) are parsed already.
    events: list[list[icalendar.cal.Component]] = [list(c.walk("VEVENT")) for c in calendars]
    for block in blocks:
        check()
        if not _may_touch(block.fields, first, last):
            continue
        if block.text.count("\n") > MAX_EVENT_LINES:  # parsed in one go, so it is bounded
            skipped.append(_entry(None, block, "unreadable"))
            continue
        try:
            event = icalendar.Event.from_ical(block.text)
        except Exception:  # the block is not a component icalendar can read at all
            skipped.append(_entry(None, block, "unreadable"))
            continue
        events[min(block.calendar, len(calendars) - 1)].append(event)

    intervals: list[Interval] = []
    count = 0
    for calendar, calendar_events in zip(calendars, events, strict=True):
        own_zone = _calendar_zone(calendar)
        floating = own_zone or zone
        series: dict[str, list[icalendar.cal.Component]] = {}
        for event in calendar_events:
            problem = _event_problem(event, first - HOURLY_LOOKBACK)
            if problem is not None:
                skipped.append(_entry(event, None, *problem))
            else:
                uid = str(event.get("UID", "")).strip() or f"no uid {id(event)}"
                series.setdefault(uid, []).append(event)
        for members in series.values():
            check()
            # One calendar per series, so that a series that cannot be expanded costs only
            # itself; the library reads X-WR-TIMEZONE from it as from the whole calendar.
            single = icalendar.Calendar()
            if own_zone is not None:
                single.add("X-WR-TIMEZONE", own_zone.key)
            for member in members:
                single.add_component(member)
            found: list[Interval] = []
            try:
                query = recurring_ical_events.of(single, components=("VEVENT",))
                for one in query.series:
                    for occurrence in one.between(span_start, span_end):
                        check()
                        count += 1
                        if count > MAX_OCCURRENCES:
                            raise MalformedCalendar("too many occurrences in the window")
                        interval = _occurrence_interval(
                            occurrence, floating, zone, start_utc, end_utc
                        )
                        if interval is not None:
                            found.append(interval)
            except (MalformedCalendar, _SourceProblem):
                raise
            except Exception as exc:  # bad rules, broken periods, mixed date types, …
                skipped.append(_entry(members[0], None, _expansion_problem(exc)))
                continue
            intervals.extend(found)
    return IcsReading(busy=merge_busy(intervals), skipped=skipped)


def busy_from_ics(
    data: bytes | str,
    window_start: datetime,
    window_end: datetime,
    time_zone: str | ZoneInfo,
) -> list[Interval]:
    """The busy intervals of `read_ics`, without the list of skipped entries."""
    return read_ics(data, window_start, window_end, time_zone).busy


def _occurrence_interval(
    occurrence: Any,
    floating: ZoneInfo,
    days: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> Interval | None:
    """One expanded occurrence as a busy interval clipped to the window, or None."""
    if _is_free(occurrence.as_component(False)):
        return None
    begin, end = occurrence.start, occurrence.end
    if not isinstance(begin, datetime) and (end is None or end == begin):
        end = begin + timedelta(days=1)  # a DATE event without DTEND lasts one day
    if end is None:
        return None
    start_at = max(_instant(begin, floating, days), window_start)
    end_at = min(_instant(end, floating, days), window_end)
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

    The whole read (redirects, download, parsing) is bounded by `timeout` seconds; parsing
    runs in a worker thread that stops as soon as the read is given up. A shared `session`
    should come from `calendar_session` (guarded resolver, no cookies); without one such a
    session is made for the call. Entries that could not be read are in `skipped`.
    """
    _check_request(window_start, window_end, time_zone)
    own_session: aiohttp.ClientSession | None = None
    abandoned = threading.Event()
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
            reading = await asyncio.to_thread(
                read_ics,
                body,
                window_start,
                window_end,
                time_zone,
                should_stop=abandoned.is_set,
            )
            if fetched and cache is not None:
                cache.put(normalized, body)
            return _known(reading, url)
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
        abandoned.set()
        if own_session is not None:
            await own_session.close()


def _known(reading: IcsReading, url: str) -> CalendarResult:
    if reading.skipped:
        # Only counts and reasons: the summaries are the owner's to see, not the log's.
        reasons = sorted({entry.reason for entry in reading.skipped})
        log.info(
            "calendar at %s read without %d entries (%s)",
            urlsplit(url).hostname,
            len(reading.skipped),
            ", ".join(reasons),
        )
    return CalendarResult(busy=reading.busy, known=True, skipped=tuple(reading.skipped))


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
) -> IcsReading:
    """Blocking: read the events in the window from one CalDAV calendar, or from all of a
    principal's calendars, and expand them with `read_ics`. Raises `_SourceProblem`.

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
        skipped: list[SkippedEntry] = []
        for calendar in calendars:
            still_wanted()
            for item in calendar.search(start=window_start, end=window_end, event=True):
                reading = read_ics(
                    item.data, window_start, window_end, time_zone, should_stop=abandoned.is_set
                )
                intervals.extend(reading.busy)
                skipped.extend(reading.skipped)
        return IcsReading(busy=merge_busy(intervals), skipped=skipped)
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
            reading = await asyncio.to_thread(
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
            return _known(reading, url)
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
    return CalendarResult(
        busy=merge_busy([b for r in results for b in r.busy]),
        known=True,
        skipped=tuple(entry for r in results for entry in r.skipped),
    )


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
