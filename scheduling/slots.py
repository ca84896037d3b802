"""Candidate meeting times: pure functions over intervals (no clock, I/O, database or Telegram).

Busy times are UTC instants. Office hours, preferred hours, working days and public holidays are
local: they are worked out in the meeting's time zone with zoneinfo. Starts lie on a grid (a
quarter hour by default) counted from local midnight, and the whole meeting lies within the
office hours of one working day. On the nights the clocks change, a start or end whose local
time does not exist or exists twice is skipped, so every time shown to a person means exactly
one instant.

`validate` checks a request against the rules that need today's date and the settings;
`candidate_times` checks only what it can without them (the same `InvalidInput` errors), so call
`validate` first for a request a person made.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Container, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import compress, groupby, repeat
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from holidays import Finland

from scheduling.errors import InvalidInput
from scheduling.i18n import N_, Nn_

MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(hours=8)
DEFAULT_MAX_WINDOW_DAYS = 120
ISO_WEEKDAYS = frozenset(range(1, 8))
_ONE_DAY = timedelta(days=1)
_WORKING_DAY_SEARCH_DAYS = 3 * 366
SPREAD_PICKS = 24  # how many of the best candidates are chosen to spread over days and hours
_NEVER = datetime.min.replace(tzinfo=UTC)


# -- values -----------------------------------------------------------------------------------


def _utc(instant: datetime, what: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (a UTC instant), not a naive one")
    return instant.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time [start, end) between two instants, kept in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "an interval's start"), _utc(self.end, "an interval's end")
        if not start < end:
            raise ValueError(f"an interval must end after it starts: {start} – {end}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share any instant (touching ends do not overlap)."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """When an organisation holds meetings: local start and end time on ISO weekdays (Mon = 1)."""

    start: time = time(8)
    end: time = time(16)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    @classmethod
    def from_digits(cls, digits: str, start: time = time(8), end: time = time(16)) -> OfficeHours:
        """From the model's `working_weekdays` column: "12345" is Monday to Friday."""
        if any(digit not in "1234567" for digit in digits):
            raise ValueError(f"working weekdays are ISO digits 1–7, not {digits!r}")
        return cls(start, end, frozenset(int(digit) for digit in digits))

    @property
    def digits(self) -> str:
        """The weekdays as the model stores them: "12345"."""
        return "".join(str(day) for day in sorted(self.weekdays))


@dataclass(frozen=True, slots=True)
class PreferredHours:
    """The hours of the day an organisation prefers for meetings, within its office hours: a
    school's "after 12.00" is `PreferredHours(time(12))`, "13.00–15.30" is
    `PreferredHours(time(13), time(15, 30))`. None: from opening, or until closing."""

    start: time | None = None
    end: time | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"preferred hours must end after they start: {self}")

    def hold(self, start: time, end: time) -> bool:
        """Whether a meeting from `start` to `end` (local times of one day) lies within them."""
        return (self.start is None or self.start <= start) and (self.end is None or end <= self.end)


@dataclass(frozen=True, slots=True)
class Attendee:
    """One participant. `busy_known=False`: their calendar could not be read, so they are
    taken as free and reported as unknown on every candidate (their `busy` is ignored)."""

    key: Hashable
    busy: tuple[Interval, ...] = ()
    required: bool = False
    busy_known: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "busy", tuple(self.busy))


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """What to search: local dates `window_start`..`window_end` (inclusive), the meeting's
    length, the attendees, and the organisation's time zone, office hours and blocked periods
    (inclusive date ranges). `not_before` drops starts earlier than that instant (e.g. now).
    `preferred`: the preferred hours of each organisation whose preference counts (see
    `candidate_times`); they rank times, while office hours bound them."""

    window_start: date
    window_end: date
    duration: timedelta
    attendees: tuple[Attendee, ...]
    time_zone: str = "Europe/Helsinki"
    office_hours: OfficeHours = OfficeHours()
    blocked: tuple[tuple[date, date], ...] = ()
    grid: timedelta = timedelta(minutes=15)
    not_before: datetime | None = None
    preferred: tuple[PreferredHours, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible meeting time. `free`, `busy` and `unknown` split the attendees' keys: unknown
    ones count as neither free nor busy, and never make `all_required_free` false."""

    start: datetime
    end: datetime
    free: frozenset[Hashable]
    busy: frozenset[Hashable]
    unknown: frozenset[Hashable]
    all_required_free: bool
    preferred: int = 0  # how many of the request's preferred hours it lies within


# -- working days -----------------------------------------------------------------------------


def midsummer_eve(year: int) -> date:
    """The Friday between 19 and 25 June."""
    june_19 = date(year, 6, 19)
    return june_19 + timedelta(days=(5 - june_19.isoweekday()) % 7)


@cache
def _finnish_holidays(year: int) -> frozenset[date]:
    days = set(Finland(years=year))
    # Christmas Eve and Midsummer Eve are days off everywhere; make sure every year has them.
    days |= {date(year, 12, 24), midsummer_eve(year)}
    return frozenset(days)


def is_public_holiday(day: date) -> bool:
    """Whether `day` is a Finnish public holiday, Christmas Eve and Midsummer Eve included."""
    return day in _finnish_holidays(day.year)


class FinnishHolidays(Container[date]):
    """Finnish public holidays as a container of dates, for `working_day`."""

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and not isinstance(day, datetime) and is_public_holiday(day)


FINNISH_HOLIDAYS = FinnishHolidays()


def working_day(
    day: date,
    office_hours: OfficeHours,
    blocked: Iterable[tuple[date, date]] = (),
    holidays: Container[date] = FINNISH_HOLIDAYS,
) -> bool:
    """Whether meetings can be held on `day`: one of the office-hours weekdays, not a holiday
    and not within a blocked period (first and last day inclusive)."""
    return (
        day.isoweekday() in office_hours.weekdays
        and day not in holidays
        and not any(first <= day <= last for first, last in blocked)
    )


def previous_working_day(
    day: date,
    office_hours: OfficeHours,
    blocked: Iterable[tuple[date, date]] = (),
    holidays: Container[date] = FINNISH_HOLIDAYS,
) -> date:
    """The last working day before `day` (never `day` itself), e.g. to send a summary then."""
    blocked = tuple(blocked)
    if not office_hours.weekdays:
        raise ValueError("office hours without weekdays have no working days")
    earlier = day
    for _ in range(_WORKING_DAY_SEARCH_DAYS):
        earlier -= _ONE_DAY
        if working_day(earlier, office_hours, blocked, holidays):
            return earlier
    raise ValueError(f"no working day in the {_WORKING_DAY_SEARCH_DAYS} days before {day}")


# -- validation -------------------------------------------------------------------------------


def _check_shape(request: SlotRequest) -> None:
    """The rules that need neither the clock nor the settings."""
    if request.window_end < request.window_start:
        raise InvalidInput(N_("The last day must not be before the first day."))
    if not MIN_DURATION <= request.duration <= MAX_DURATION:
        raise InvalidInput(N_("The meeting must last between 1 minute and 8 hours."))
    hours = request.office_hours
    if hours.end <= hours.start:
        raise InvalidInput(N_("Office hours must end after they start."))
    if not hours.weekdays:
        raise InvalidInput(N_("Office hours need at least one weekday."))
    if any(last < first for first, last in request.blocked):
        raise InvalidInput(N_("A blocked period must not end before it starts."))
    # Mistakes in the calling code rather than in what a person typed:
    if not hours.weekdays <= ISO_WEEKDAYS:
        raise ValueError(f"weekdays are ISO numbers 1–7, not {sorted(hours.weekdays)}")
    if request.grid < timedelta(minutes=1) or request.grid % timedelta(minutes=1):
        raise ValueError(f"the grid must be a whole number of minutes, not {request.grid}")
    if request.not_before is not None:
        _utc(request.not_before, "not_before")
    keys = [attendee.key for attendee in request.attendees]
    if len(set(keys)) != len(keys):
        raise ValueError("each attendee needs a key of their own")


def validate(
    request: SlotRequest, *, today: date, max_window_days: int = DEFAULT_MAX_WINDOW_DAYS
) -> None:
    """Raise `InvalidInput` for a request a person should change. `today` is the local date in
    the request's time zone (the caller reads the clock); `not_before`, when later, counts as
    today. `max_window_days` comes from the settings."""
    _check_shape(request)
    reference = today
    if request.not_before is not None:
        zone = ZoneInfo(request.time_zone)
        reference = max(reference, request.not_before.astimezone(zone).date())
    if request.window_end < reference:
        raise InvalidInput(N_("The last day must not be in the past."))
    if (request.window_end - request.window_start).days + 1 > max_window_days:
        raise InvalidInput(
            Nn_(
                "The period can be at most {n} day long.",
                "The period can be at most {n} days long.",
            ),
            n=max_window_days,
        )


# -- the search -------------------------------------------------------------------------------


def _single_meaning(local: datetime) -> bool:
    """Whether a local wall time exists and exists once: in a gap or a fold the two `fold`
    values give different UTC offsets (PEP 495)."""
    return local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset()


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _steady_offset(day: date, hours: OfficeHours, zone: ZoneInfo) -> timedelta | None:
    """The UTC offset all through the day's office hours, or None if the clocks change then:
    the offset differs at opening and closing time, or one of them has two meanings. (Two
    changes that cancel out within one day's office hours would go unseen; no zone has them.)"""
    opening = datetime.combine(day, hours.start, zone)
    closing = datetime.combine(day, hours.end, zone)
    offset = opening.utcoffset()
    if offset is None or closing.utcoffset() != offset:
        return None
    if not (_single_meaning(opening) and _single_meaning(closing)):
        return None
    return offset


def _slots(request: SlotRequest, zone: ZoneInfo) -> list[tuple[date, datetime, datetime]]:
    """Every (local day, UTC start, UTC end) the office hours allow, in time order."""
    hours, duration = request.office_hours, request.duration
    step = int(request.grid.total_seconds())
    opens, closes = _seconds(hours.start), _seconds(hours.end)
    offsets = [timedelta(seconds=s) for s in range(-(-opens // step) * step, closes, step)]
    # Where the offset holds all day, each start is local midnight plus the time of day.
    fitting = [offset for offset in offsets if offset + duration <= timedelta(seconds=closes)]
    not_before = None if request.not_before is None else request.not_before.astimezone(UTC)
    blocked = tuple(sorted(request.blocked))
    slots: list[tuple[date, datetime, datetime]] = []
    day = request.window_start
    while day <= request.window_end:
        if not working_day(day, hours, blocked):
            day += _ONE_DAY
            continue
        utc_offset = _steady_offset(day, hours, zone)
        if utc_offset is not None:
            midnight = datetime.combine(day, time(0), UTC) - utc_offset
            starts = [midnight + offset for offset in fitting]
        else:  # the clocks change during office hours: every wall time checked on its own
            starts = []
            for offset in offsets:
                local = datetime.combine(day, time(0), zone) + offset
                if not _single_meaning(local):
                    continue
                start = local.astimezone(UTC)
                end_local = (start + duration).astimezone(zone)
                if (
                    end_local.date() == day
                    and end_local.time() <= hours.end
                    and _single_meaning(end_local)
                ):
                    starts.append(start)
        slots.extend(
            (day, start, start + duration)
            for start in starts
            if not_before is None or start >= not_before
        )
        day += _ONE_DAY
    return slots


def _merged(busy: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Busy starts and ends, sorted and merged where intervals overlap or touch: disjoint."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    last_end = _NEVER
    for interval in sorted(busy, key=attrgetter("start")):
        if not ends or interval.start > last_end:
            starts.append(interval.start)
            ends.append(last_end := interval.end)
        elif interval.end > last_end:
            ends[-1] = last_end = interval.end
    return starts, ends


def _busy_flags(
    busy: Iterable[Interval], slot_starts: list[datetime], slot_ends: list[datetime]
) -> bytearray:
    """1 for each slot that overlaps a busy interval. The slots are in order and equally long,
    so those overlapping busy [b, e), ending after b and starting before e, are a run."""
    flags = bytearray(len(slot_starts))
    first = 0
    for busy_start, busy_end in zip(*_merged(busy), strict=True):
        first = bisect_right(slot_ends, busy_start, first)
        stop = bisect_left(slot_starts, busy_end, first)
        if first < stop:
            flags[first:stop] = b"\x01" * (stop - first)
    return flags


class _Entry(NamedTuple):
    """A candidate as ranked: tuples of these sort by quality, then start (starts are unique)."""

    quality: tuple[bool, int, int]
    start: datetime
    day: date
    minute: int  # the local start's minutes after midnight: its time of day
    candidate: Candidate


def _spread(tiers: list[list[_Entry]], count: int) -> list[_Entry]:
    """Pick `count` entries one by one, each from the best tier that has any left: the one
    with the fewest earlier picks on its day plus earlier picks at its very time of day, then
    the farthest in time of day from the times already picked, then the earliest."""
    picked: list[_Entry] = []
    day_uses: dict[date, int] = {}
    time_uses: dict[int, int] = {}
    far = 24 * 60
    # Minutes from each time of day to the nearest one picked.
    distance = {entry.minute: far for tier in tiers for entry in tier}
    for tier in tiers:
        while tier and len(picked) < count:
            best = min(
                range(len(tier)),
                key=lambda i: (
                    day_uses.get(tier[i].day, 0) + time_uses.get(tier[i].minute, 0),
                    -distance[tier[i].minute],
                    tier[i].start,
                ),
            )
            entry = tier.pop(best)
            picked.append(entry)
            day_uses[entry.day] = day_uses.get(entry.day, 0) + 1
            time_uses[entry.minute] = time_uses.get(entry.minute, 0) + 1
            for minute, nearest in distance.items():
                distance[minute] = min(nearest, abs(minute - entry.minute))
        if len(picked) == count:
            break
    return picked


def candidate_times(request: SlotRequest, limit: int | None = None) -> list[Candidate]:
    """Candidate starts, best first. No two candidates share a start.

    Quality comes first: times when every required attendee is free (as far as known), then
    times within the most of the request's preferred hours, then times when the most attendees
    are free. Among times of equal quality the list is spread over days and times of day: each
    next time is the one with the fewest earlier times on its day and at its time of day, then
    the farthest in time of day from those already chosen, then the earliest. So a window of
    free days gives e.g. 8.00 on the first day, 14.30 on the second, 11.15 on the third, not
    8.00 on each. The first `SPREAD_PICKS` are chosen so; any others follow in order of
    quality, then time.

    Whose preferred hours count is the caller's to choose (availability.py: the convening
    organisation and those of the required professionals). Inside all of them comes first
    (their intersection, when it has room); where they do not meet, inside the most of them.

    Raises `InvalidInput` for what `validate` checks without the clock; the window's place
    relative to today and its length are the caller's to check with `validate`.
    """
    _check_shape(request)
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    zone = ZoneInfo(request.time_zone)
    slots = _slots(request, zone)
    known = [attendee for attendee in request.attendees if attendee.busy_known]
    keys = [attendee.key for attendee in known]
    everyone = frozenset(keys)
    required = frozenset(attendee.key for attendee in known if attendee.required)
    unknown = frozenset(a.key for a in request.attendees if not a.busy_known)
    # One row of busy flags per known attendee; each slot's column is its busy pattern.
    starts = [start for _, start, _ in slots]
    ends = [end for _, _, end in slots]
    rows = [_busy_flags(attendee.busy, starts, ends) for attendee in known]
    columns = zip(*rows, strict=True) if rows else repeat((), len(slots))
    patterns: dict[tuple[int, ...], tuple[frozenset[Hashable], frozenset[Hashable], bool]] = {}
    entries: list[_Entry] = []
    for (day, start, end), pattern in zip(slots, columns, strict=True):
        split = patterns.get(pattern)
        if split is None:
            busy = frozenset(compress(keys, pattern))
            split = patterns[pattern] = (everyone - busy, busy, required.isdisjoint(busy))
        free, busy, required_free = split
        local_start = start.astimezone(zone)
        preferred = 0
        if request.preferred:
            opens, closes = local_start.time(), end.astimezone(zone).time()
            preferred = sum(hours.hold(opens, closes) for hours in request.preferred)
        entries.append(
            _Entry(
                (not required_free, -preferred, -len(free)),
                start,
                day,
                local_start.hour * 60 + local_start.minute,
                Candidate(start, end, free, busy, unknown, required_free, preferred),
            )
        )
    entries.sort()
    count = len(entries) if limit is None else min(limit, len(entries))
    tiers = [list(tier) for _, tier in groupby(entries, key=attrgetter("quality"))]
    picked = _spread(tiers, min(count, SPREAD_PICKS))
    rest = [entry for tier in tiers for entry in tier]
    return [entry.candidate for entry in (picked + rest)[:count]]
