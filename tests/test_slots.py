"""The candidate-time engine: working days, office hours, clock changes, ranking, validation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling import slots
from scheduling.errors import InvalidInput
from scheduling.slots import (
    Attendee,
    Candidate,
    Interval,
    OfficeHours,
    PreferredHours,
    SlotRequest,
    candidate_times,
    is_public_holiday,
    midsummer_eve,
    previous_working_day,
    validate,
    working_day,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
HOUR = timedelta(hours=1)
ALL_WEEK = frozenset(range(1, 8))
AUTUMN_BREAK_2026 = (date.fromisocalendar(2026, 42, 1), date.fromisocalendar(2026, 42, 7))


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = HELSINKI) -> datetime:
    """The UTC instant of a Helsinki wall time."""
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def busy(day: date, first_hour: int, last_hour: int) -> Interval:
    return Interval(at(day, first_hour), at(day, last_hour))


def wall(instant: datetime) -> str:
    """`14.12. 10.00`: a candidate's local start, for readable assertions."""
    return instant.astimezone(HELSINKI).strftime("%d.%m. %H.%M")


def walls(candidates: list[Candidate]) -> list[str]:
    return [wall(candidate.start) for candidate in candidates]


def quarter_hours(first: str, last: str) -> list[str]:
    """Wall times from `first` to `last` inclusive, e.g. quarter_hours("00.00", "02.45")."""
    hour, minute = map(int, first.split("."))
    stop = tuple(map(int, last.split(".")))
    times = []
    while (hour, minute) <= stop:
        times.append(f"{hour:02}.{minute:02}")
        hour, minute = divmod(hour * 60 + minute + 15, 60)
    return times


def one_meaning(local_wall: datetime, zone: ZoneInfo, instant: datetime) -> bool:
    """Both readings (folds) of the wall time are this very instant: it exists, and once."""
    return all(
        local_wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) == instant for fold in (0, 1)
    )


# -- holidays and working days ----------------------------------------------------------------


@pytest.mark.parametrize("year", range(2024, 2032))
def test_the_holidays_package_has_christmas_eve_and_midsummer_eve(year: int) -> None:
    finnish = holidays.Finland(years=year)
    assert date(year, 12, 24) in finnish
    assert midsummer_eve(year) in finnish
    assert midsummer_eve(year).isoweekday() == 5
    assert midsummer_eve(year) + timedelta(days=1) in finnish  # Midsummer Day


def test_midsummer_eve_is_the_friday_between_19_and_25_june() -> None:
    assert midsummer_eve(2026) == date(2026, 6, 19)
    assert midsummer_eve(2027) == date(2027, 6, 25)
    assert midsummer_eve(2028) == date(2028, 6, 23)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 14),  # Ascension Day
        date(2026, 6, 19),  # Midsummer Eve
        date(2026, 12, 6),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 6),  # Epiphany, a Wednesday
    ],
)
def test_public_holidays(day: date) -> None:
    assert is_public_holiday(day)
    assert not working_day(day, OfficeHours(weekdays=ALL_WEEK))


@pytest.mark.parametrize(
    "day", [date(2026, 4, 30), date(2026, 12, 23), date(2026, 12, 31), date(2027, 1, 5)]
)
def test_ordinary_days(day: date) -> None:
    assert not is_public_holiday(day)
    assert working_day(day, OfficeHours())


def test_christmas_eve_and_midsummer_eve_are_added_when_a_year_lacks_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slots, "Finland", lambda years: {date(years, 1, 1): "New Year's Day"})
    slots._finnish_holidays.cache_clear()
    try:
        assert is_public_holiday(date(2031, 12, 24))
        assert is_public_holiday(date(2031, 6, 20))  # Midsummer Eve 2031, a Friday
        assert is_public_holiday(date(2031, 1, 1))
        assert not is_public_holiday(date(2031, 12, 25))  # the stand-in has no Christmas Day
    finally:
        monkeypatch.undo()
        slots._finnish_holidays.cache_clear()
    assert is_public_holiday(date(2031, 12, 25))


def test_working_day_weekdays_blocked_periods_and_own_holidays() -> None:
    hours = OfficeHours()
    assert working_day(date(2026, 10, 9), hours)  # Friday
    assert not working_day(date(2026, 10, 10), hours)  # Saturday
    assert not working_day(date(2026, 10, 11), hours)  # Sunday
    assert working_day(date(2026, 10, 11), OfficeHours(weekdays=ALL_WEEK))
    for offset in range(7):
        day = AUTUMN_BREAK_2026[0] + timedelta(days=offset)
        assert not working_day(day, OfficeHours(weekdays=ALL_WEEK), [AUTUMN_BREAK_2026])
    assert working_day(date(2026, 10, 19), hours, [AUTUMN_BREAK_2026])
    assert working_day(date(2026, 12, 24), hours, holidays=set())
    assert not working_day(date(2026, 12, 23), hours, holidays={date(2026, 12, 23)})


def test_previous_working_day() -> None:
    hours = OfficeHours()
    assert previous_working_day(date(2026, 12, 15), hours) == date(2026, 12, 14)
    assert previous_working_day(date(2026, 12, 14), hours) == date(2026, 12, 11)  # Friday
    assert previous_working_day(date(2026, 12, 28), hours) == date(2026, 12, 23)  # Christmas
    assert previous_working_day(date(2027, 1, 7), hours) == date(2027, 1, 5)  # Epiphany
    assert previous_working_day(date(2026, 6, 22), hours) == date(2026, 6, 18)  # Midsummer
    assert previous_working_day(date(2026, 10, 19), hours, [AUTUMN_BREAK_2026]) == date(2026, 10, 9)
    assert previous_working_day(date(2026, 12, 14), OfficeHours(weekdays=ALL_WEEK)) == date(
        2026, 12, 13
    )
    with pytest.raises(ValueError, match="no working day"):
        previous_working_day(date(2026, 12, 14), hours, [(date(2020, 1, 1), date(2026, 12, 31))])
    with pytest.raises(ValueError, match="without weekdays"):
        previous_working_day(date(2026, 12, 14), OfficeHours(weekdays=frozenset()))


def test_office_hours_from_the_model_column() -> None:
    hours = OfficeHours.from_digits("1234", time(9), time(15))
    assert hours == OfficeHours(time(9), time(15), frozenset({1, 2, 3, 4}))
    assert hours.digits == "1234"
    assert OfficeHours.from_digits("12345") == OfficeHours()
    assert OfficeHours.from_digits("") == OfficeHours(weekdays=frozenset())
    with pytest.raises(ValueError, match="ISO digits"):
        OfficeHours.from_digits("12308")


# -- pinned examples --------------------------------------------------------------------------


def request(
    first: date, last: date, duration: timedelta, *attendees: Attendee, **options: object
) -> SlotRequest:
    return SlotRequest(first, last, duration, attendees, **options)  # type: ignore[arg-type]


def test_christmas_new_year_and_epiphany_are_skipped() -> None:
    found = candidate_times(
        request(date(2026, 12, 21), date(2027, 1, 8), 8 * HOUR, Attendee("chair"))
    )
    # An 8-hour meeting fills the day: one start, 8.00, on each working day, in day order.
    december = ["21.12.", "22.12.", "23.12.", "28.12.", "29.12.", "30.12.", "31.12."]
    january = ["04.01.", "05.01.", "07.01.", "08.01."]
    assert walls(found) == [f"{day} 08.00" for day in december + january]
    assert all(candidate.end - candidate.start == 8 * HOUR for candidate in found)
    assert all(wall(candidate.end).endswith("16.00") for candidate in found)


def test_midsummer_eve_is_skipped() -> None:
    found = candidate_times(request(date(2026, 6, 15), date(2026, 6, 21), 8 * HOUR))
    assert walls(found) == ["15.06. 08.00", "16.06. 08.00", "17.06. 08.00", "18.06. 08.00"]


def test_a_blocked_autumn_break_week_is_skipped() -> None:
    window = (date(2026, 10, 5), date(2026, 10, 23))
    found = candidate_times(request(*window, 8 * HOUR, blocked=(AUTUMN_BREAK_2026,)))
    days = ["05", "06", "07", "08", "09", "19", "20", "21", "22", "23"]
    assert walls(found) == [f"{day}.10. 08.00" for day in days]
    assert len(candidate_times(request(*window, 8 * HOUR))) == 15  # week 42 too, without it

    # A 90-minute meeting: every quarter hour from 8.00 to 14.30, on the same ten days.
    found = candidate_times(request(*window, timedelta(minutes=90), blocked=(AUTUMN_BREAK_2026,)))
    starts = quarter_hours("08.00", "14.30")
    assert sorted(walls(found)) == sorted(f"{day}.10. {start}" for day in days for start in starts)


def test_an_organisations_own_office_hours() -> None:
    hours = OfficeHours.from_digits("1234", time(9), time(15))
    found = candidate_times(
        request(date(2026, 12, 7), date(2026, 12, 13), 6 * HOUR, office_hours=hours)
    )
    assert walls(found) == ["07.12. 09.00", "08.12. 09.00", "09.12. 09.00", "10.12. 09.00"]


def test_starts_lie_on_the_local_grid_counted_from_midnight() -> None:
    hours = OfficeHours(time(8, 10), time(9, 5))
    found = candidate_times(
        request(date(2026, 12, 14), date(2026, 12, 14), timedelta(minutes=15), office_hours=hours)
    )
    assert sorted(walls(found)) == ["14.12. 08.15", "14.12. 08.30", "14.12. 08.45"]
    hourly = candidate_times(
        request(date(2026, 12, 14), date(2026, 12, 14), HOUR, grid=timedelta(minutes=30))
    )
    assert sorted(walls(hourly)) == [f"14.12. {t}" for t in quarter_hours("08.00", "15.00")][::2]


MON, TUE, WED = date(2026, 12, 14), date(2026, 12, 15), date(2026, 12, 16)
CIRCLE = (
    Attendee("chair", (busy(MON, 8, 10), busy(TUE, 10, 12)), required=True),
    Attendee("school", (busy(MON, 11, 12), busy(TUE, 8, 9), busy(WED, 8, 11))),
    Attendee("social", (busy(WED, 10, 12),)),
    Attendee("family", (busy(MON, 8, 12),), busy_known=False),
)
MORNINGS = {"office_hours": OfficeHours(time(8), time(12)), "grid": HOUR}


def test_ranking_required_first_then_most_free_then_spread_over_days_and_hours() -> None:
    found = candidate_times(request(MON, WED, HOUR, *CIRCLE, **MORNINGS))
    assert walls(found) == [
        # everyone free
        "14.12. 10.00",
        "15.12. 09.00",
        # the chair and one other: Wednesday, not yet used, at an hour not yet used; then
        # Monday at 11.00, an hour not yet used either; then the rest, earliest first
        "16.12. 08.00",
        "14.12. 11.00",
        "15.12. 08.00",
        "16.12. 09.00",
        "16.12. 11.00",
        # the chair alone is free: still before any time the required chair cannot make
        "16.12. 10.00",
        # the chair busy, two free: Monday and Tuesday taken in turn, not earliest first
        "14.12. 08.00",
        "15.12. 10.00",
        "14.12. 09.00",
        "15.12. 11.00",
    ]
    by_wall = {wall(candidate.start): candidate for candidate in found}
    assert by_wall["14.12. 10.00"] == Candidate(
        at(MON, 10),
        at(MON, 11),
        free=frozenset({"chair", "school", "social"}),
        busy=frozenset(),
        unknown=frozenset({"family"}),
        all_required_free=True,
    )
    assert by_wall["16.12. 10.00"].busy == {"school", "social"}
    assert by_wall["14.12. 08.00"].busy == {"chair"}
    assert not by_wall["14.12. 08.00"].all_required_free
    # The family's calendar could not be read: unknown everywhere, never free or busy.
    assert all(candidate.unknown == {"family"} for candidate in found)
    assert not any("family" in candidate.free | candidate.busy for candidate in found)
    assert candidate_times(request(MON, WED, HOUR, *CIRCLE, **MORNINGS), limit=3) == found[:3]
    assert candidate_times(request(MON, WED, HOUR, *CIRCLE, **MORNINGS), limit=0) == []


def test_a_required_person_whose_calendar_is_unknown_counts_as_free() -> None:
    found = candidate_times(
        request(MON, MON, HOUR, Attendee("chair", required=True, busy_known=False), **MORNINGS)
    )
    assert len(found) == 4
    assert all(c.all_required_free and c.unknown == {"chair"} and not c.free for c in found)


def test_not_before_drops_earlier_starts() -> None:
    def search(not_before: datetime) -> list[str]:
        return walls(
            candidate_times(request(MON, WED, HOUR, *CIRCLE, not_before=not_before, **MORNINGS))
        )

    wednesday = ["16.12. 08.00", "16.12. 11.00", "16.12. 09.00", "16.12. 10.00"]
    assert search(at(TUE, 10)) == [*wednesday, "15.12. 10.00", "15.12. 11.00"]
    assert search(at(TUE, 10) + timedelta(seconds=1)) == [*wednesday, "15.12. 11.00"]
    assert search(at(WED, 12)) == []
    # The instant may come in any zone.
    assert search(at(TUE, 10).astimezone(ZoneInfo("America/New_York")))[-2] == "15.12. 10.00"


def test_busy_times_touching_the_meeting_do_not_overlap_it() -> None:
    person = Attendee("nurse", (busy(MON, 9, 10), busy(MON, 11, 12)), required=True)
    found = candidate_times(request(MON, MON, HOUR, person, **MORNINGS))
    assert walls(found) == ["14.12. 08.00", "14.12. 10.00", "14.12. 09.00", "14.12. 11.00"]
    assert [c.all_required_free for c in found] == [True, True, False, False]


def test_busy_times_in_any_zone_overlapping_or_unordered() -> None:
    london = ZoneInfo("Europe/London")
    person = Attendee(
        "nurse",
        (
            Interval(
                datetime(2026, 12, 14, 8, tzinfo=london), datetime(2026, 12, 14, 9, tzinfo=london)
            ),
            busy(MON, 9, 10),
            busy(MON, 8, 9),
            Interval(at(MON, 8, 30), at(MON, 9, 15)),
        ),
    )  # London 8–9 is Helsinki 10–11: Helsinki 8.00–11.00 busy in all
    found = candidate_times(request(MON, MON, HOUR, person, **MORNINGS))
    assert [(wall(c.start), bool(c.busy)) for c in found] == [
        ("14.12. 11.00", False),
        ("14.12. 08.00", True),
        ("14.12. 09.00", True),
        ("14.12. 10.00", True),
    ]


def test_intervals_are_utc_instants() -> None:
    interval = Interval(datetime(2026, 12, 14, 10, tzinfo=HELSINKI), at(MON, 11))
    assert interval.start == datetime(2026, 12, 14, 8, tzinfo=UTC)
    assert interval.start.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        Interval(datetime(2026, 12, 14, 10), at(MON, 11))
    with pytest.raises(ValueError, match="end after it starts"):
        Interval(at(MON, 11), at(MON, 11))
    assert Interval(at(MON, 9), at(MON, 10)).overlaps(Interval(at(MON, 9, 59), at(MON, 12)))
    assert not Interval(at(MON, 9), at(MON, 10)).overlaps(Interval(at(MON, 10), at(MON, 12)))


# -- the nights the clocks change -------------------------------------------------------------

NIGHTS = OfficeHours(time(0), time(6), ALL_WEEK)


def assert_every_time_has_one_meaning(found: list[Candidate], zone: ZoneInfo) -> None:
    for candidate in found:
        for instant in (candidate.start, candidate.end):
            local_wall = instant.astimezone(zone).replace(tzinfo=None)
            assert one_meaning(local_wall, zone, instant), local_wall
    assert len({candidate.start for candidate in found}) == len(found)


def by_day(found: list[Candidate]) -> dict[str, list[str]]:
    days: dict[str, list[str]] = defaultdict(list)
    for start in sorted(wall(candidate.start) for candidate in found):
        days[start[:6]].append(start[7:])
    return dict(days)


def test_spring_forward_skips_the_hour_that_does_not_exist() -> None:
    # 29.3.2026 at 3.00 the clocks go to 4.00: 3.00–3.59 does not exist in Helsinki.
    found = candidate_times(
        request(date(2026, 3, 28), date(2026, 3, 30), timedelta(minutes=30), office_hours=NIGHTS)
    )
    assert_every_time_has_one_meaning(found, HELSINKI)
    assert by_day(found) == {
        "28.03.": quarter_hours("00.00", "05.30"),
        "29.03.": quarter_hours("00.00", "02.45") + quarter_hours("04.00", "05.30"),
        "30.03.": quarter_hours("00.00", "05.30"),
    }
    # Across the gap a meeting still lasts 30 minutes: 2.45 to 4.15 on the clock.
    late = next(c for c in found if wall(c.start) == "29.03. 02.45")
    assert wall(late.end) == "29.03. 04.15"
    assert late.end - late.start == timedelta(minutes=30)


def test_fall_back_skips_the_hour_that_happens_twice() -> None:
    # 25.10.2026 at 4.00 the clocks go back to 3.00: 3.00–3.59 happens twice.
    found = candidate_times(
        request(date(2026, 10, 24), date(2026, 10, 26), timedelta(minutes=30), office_hours=NIGHTS)
    )
    assert_every_time_has_one_meaning(found, HELSINKI)
    assert by_day(found) == {
        "24.10.": quarter_hours("00.00", "05.30"),
        # 2.30 and 2.45 would end at a 3.00 or 3.15 that happens twice
        "25.10.": quarter_hours("00.00", "02.15") + quarter_hours("04.00", "05.30"),
        "26.10.": quarter_hours("00.00", "05.30"),
    }


@pytest.mark.parametrize("sunday", [date(2026, 3, 29), date(2026, 10, 25)])
def test_office_hours_that_end_or_lie_in_the_changing_hour(sunday: date) -> None:
    def search(opens: time, closes: time) -> list[Candidate]:
        hours = OfficeHours(opens, closes, ALL_WEEK)
        return candidate_times(request(sunday, sunday, timedelta(minutes=15), office_hours=hours))

    # 2.45–3.00 would end at 4.00 in spring (after closing) and at a doubled 3.00 in autumn.
    found = search(time(2), time(3, 30))
    assert_every_time_has_one_meaning(found, HELSINKI)
    assert sorted(walls(found)) == [f"{sunday:%d.%m.} 02.{m}" for m in ("00", "15", "30")]
    assert search(time(3), time(3, 45)) == []  # all of it missing, or all of it doubled
    assert walls(search(time(3, 15), time(4, 15))) == [f"{sunday:%d.%m.} 04.00"]


def test_ordinary_office_hours_on_the_nights_the_clocks_change() -> None:
    hours = OfficeHours(weekdays=ALL_WEEK)
    for sunday in (date(2026, 3, 29), date(2026, 10, 25)):
        found = candidate_times(request(sunday, sunday, HOUR, office_hours=hours))
        assert sorted(walls(found)) == [
            f"{sunday:%d.%m.} {start}" for start in quarter_hours("08.00", "15.00")
        ]


# -- properties -------------------------------------------------------------------------------

# The clock changes (Sundays) of each zone: Lord Howe moves its clocks by 30 minutes, back at
# 2.00 in April and forward at 2.00 in October.
CLOCK_CHANGES = {
    "Europe/Helsinki": (date(2026, 3, 29), date(2026, 10, 25)),
    "Australia/Lord_Howe": (date(2027, 4, 4), date(2026, 10, 4)),
}
# Midsummer, the autumn break weeks, Christmas and Epiphany.
SEASONS = (date(2026, 6, 16), date(2026, 10, 5), date(2026, 12, 20))


@st.composite
def office_hours(draw: st.DrawFn, at_night: bool) -> OfficeHours:
    """Mostly 8–16 and a weekday set; `at_night`: open on Sundays, over the clock changes."""
    weekdays = draw(st.frozensets(st.integers(1, 7), min_size=1))
    if at_night:
        opens = draw(st.integers(0, 16)) * 15  # from midnight to 4.00
        closes = opens + draw(st.integers(1, 28)) * 15
        return OfficeHours(time(*divmod(opens, 60)), time(*divmod(closes, 60)), weekdays | {7})
    return OfficeHours(weekdays=draw(st.sampled_from((weekdays, OfficeHours().weekdays))))


@st.composite
def slot_requests(draw: st.DrawFn) -> SlotRequest:
    zone_name = draw(st.sampled_from(sorted(CLOCK_CHANGES)))
    at_night = draw(st.booleans())
    if at_night:  # a window with a Sunday the clocks change on
        sunday = draw(st.sampled_from(CLOCK_CHANGES[zone_name]))
        first = sunday - timedelta(days=draw(st.integers(0, 2)))
        last = sunday + timedelta(days=draw(st.integers(0, 2)))
    else:
        first = draw(st.sampled_from(SEASONS)) + timedelta(days=draw(st.integers(0, 7)))
        last = first + timedelta(days=draw(st.integers(0, 6)))
    origin = datetime.combine(first, time(0), ZoneInfo(zone_name)).astimezone(UTC)
    span = ((last - first).days + 1) * 24 * 60

    def instant() -> datetime:
        return origin + timedelta(minutes=draw(st.integers(-120, span + 120)))

    attendees = []
    for number in range(draw(st.integers(0, 4))):
        intervals = []
        for _ in range(draw(st.integers(0, 6))):
            start = instant()
            intervals.append(Interval(start, start + timedelta(minutes=draw(st.integers(1, 600)))))
        attendees.append(
            Attendee(
                f"a{number}",
                tuple(intervals),
                required=draw(st.booleans()),
                busy_known=draw(st.integers(0, 5)) > 0,
            )
        )
    blocked = []
    for _ in range(draw(st.integers(0, 2)) if not at_night else 0):
        start_day = first + timedelta(days=draw(st.integers(-2, 8)))
        blocked.append((start_day, start_day + timedelta(days=draw(st.integers(0, 3)))))
    return SlotRequest(
        window_start=first,
        window_end=last,
        duration=timedelta(minutes=draw(st.sampled_from((1, 15, 30, 45, 60, 90, 120, 480)))),
        attendees=tuple(attendees),
        time_zone=zone_name,
        office_hours=draw(office_hours(at_night)),
        blocked=tuple(blocked),
        grid=timedelta(minutes=draw(st.sampled_from((15, 30, 60)))),
        not_before=instant() if draw(st.booleans()) else None,
        preferred=tuple(draw(st.lists(preferred_hours(), max_size=3))),
    )


@st.composite
def preferred_hours(draw: st.DrawFn) -> PreferredHours:
    """An organisation's preferred hours, quarter hours from 0.00 to 18.00, one end maybe open."""
    start, end = sorted(draw(st.lists(st.integers(0, 72), min_size=2, max_size=2, unique=True)))
    return PreferredHours(
        time(*divmod(start * 15, 60)) if draw(st.integers(0, 3)) else None,
        time(*divmod(end * 15, 60)) if draw(st.integers(0, 3)) else None,
    )


def reference_starts(request: SlotRequest) -> set[datetime]:
    """Every start the rules allow, found the slow way: each grid time of each day, kept when
    its wall time and its end's wall time each stand for exactly one instant."""
    zone = ZoneInfo(request.time_zone)
    hours, grid = request.office_hours, int(request.grid.total_seconds() // 60)

    def instants(local_wall: datetime) -> set[datetime]:
        # A list, not a set: the two readings compare equal whatever their fold (PEP 495).
        readings = [local_wall.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
        return {
            reading.astimezone(UTC)
            for reading in readings
            if reading.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local_wall
        }

    found = set()
    day = request.window_start
    while day <= request.window_end:
        if working_day(day, hours, request.blocked):
            for minute in range(0, 24 * 60, grid):
                start_wall = datetime.combine(day, time(*divmod(minute, 60)))
                starts = instants(start_wall)
                if start_wall.time() < hours.start or len(starts) != 1:
                    continue
                start = starts.pop()
                end_wall = (start + request.duration).astimezone(zone).replace(tzinfo=None)
                if (
                    end_wall.date() == day
                    and end_wall.time() <= hours.end
                    and len(instants(end_wall)) == 1
                    and (request.not_before is None or start >= request.not_before)
                ):
                    found.add(start)
        day += timedelta(days=1)
    return found


def overlaps_busy(attendee: Attendee, candidate: Candidate) -> bool:
    meeting = Interval(candidate.start, candidate.end)
    return any(interval.overlaps(meeting) for interval in attendee.busy)


def inside(hours: PreferredHours, candidate: Candidate, zone: ZoneInfo) -> bool:
    """Worked out again from the wall clock: the meeting lies within the preferred hours."""
    start, end = candidate.start.astimezone(zone), candidate.end.astimezone(zone)
    after = hours.start is None or hours.start <= start.time()
    before = hours.end is None or end.time() <= hours.end
    return after and before


def quality(candidate: Candidate, request: SlotRequest) -> tuple[bool, int, int]:
    """Lower is better: required free, then within the most preferred hours, then most free."""
    zone = ZoneInfo(request.time_zone)
    within = sum(inside(hours, candidate, zone) for hours in request.preferred)
    return (not candidate.all_required_free, -within, -len(candidate.free))


@settings(max_examples=150, deadline=None)
@given(slot_requests())
def test_candidates_are_exactly_the_allowed_starts_ranked(request: SlotRequest) -> None:
    found = candidate_times(request)
    zone = ZoneInfo(request.time_zone)
    starts = [candidate.start for candidate in found]
    assert len(set(starts)) == len(starts)
    assert set(starts) == reference_starts(request)
    hours = request.office_hours
    for candidate in found:
        start, end = candidate.start.astimezone(zone), candidate.end.astimezone(zone)
        assert candidate.end - candidate.start == request.duration
        assert start.date() == end.date()
        assert request.window_start <= start.date() <= request.window_end
        assert hours.start <= start.time() and end.time() <= hours.end
        assert start.isoweekday() in hours.weekdays
        assert not is_public_holiday(start.date())
        assert not any(first <= start.date() <= last for first, last in request.blocked)
        assert (start.hour * 60 + start.minute) % (request.grid // timedelta(minutes=1)) == 0
        assert one_meaning(start.replace(tzinfo=None), zone, candidate.start)
        assert one_meaning(end.replace(tzinfo=None), zone, candidate.end)
    # Best first; past the spread ones, in order of quality and then time.
    qualities = [quality(candidate, request) for candidate in found]
    assert qualities == sorted(qualities)
    rest = found[slots.SPREAD_PICKS :]
    assert rest == sorted(rest, key=lambda c: (quality(c, request), c.start))


@settings(max_examples=150, deadline=None)
@given(slot_requests())
def test_free_busy_and_unknown_are_what_the_calendars_say(request: SlotRequest) -> None:
    found = candidate_times(request)
    required = [a for a in request.attendees if a.required and a.busy_known]
    for candidate in found:
        assert candidate.all_required_free == (
            not any(overlaps_busy(attendee, candidate) for attendee in required)
        )
        for attendee in request.attendees:
            if not attendee.busy_known:
                assert attendee.key in candidate.unknown
                assert attendee.key not in candidate.free | candidate.busy
            elif overlaps_busy(attendee, candidate):
                assert attendee.key in candidate.busy - candidate.free - candidate.unknown
            else:
                assert attendee.key in candidate.free - candidate.busy - candidate.unknown
        assert len(candidate.free | candidate.busy | candidate.unknown) == len(request.attendees)


@settings(max_examples=60, deadline=None)
@given(slot_requests(), st.randoms(use_true_random=False))
def test_the_same_input_gives_the_same_output(request: SlotRequest, rng: Random) -> None:
    found = candidate_times(request)
    assert candidate_times(request) == found
    shuffled = []
    for attendee in request.attendees:
        busy_times = list(attendee.busy)
        rng.shuffle(busy_times)
        shuffled.append(
            Attendee(attendee.key, tuple(busy_times), attendee.required, attendee.busy_known)
        )
    rng.shuffle(shuffled)
    again = candidate_times(replace(request, attendees=tuple(shuffled)))
    assert again == found


@settings(max_examples=100, deadline=None)
@given(slot_requests(), st.data())
def test_a_new_busy_time_never_makes_a_time_better(
    request: SlotRequest, data: st.DataObject
) -> None:
    """Adding a busy interval to someone's calendar keeps the same starts; at each start nobody
    becomes free, nobody leaves `busy`, and all-required-free can only be lost."""
    if not request.attendees:
        return
    who = data.draw(st.integers(0, len(request.attendees) - 1))
    start = datetime.combine(request.window_start, time(0), ZoneInfo(request.time_zone))
    start = start.astimezone(UTC) + timedelta(minutes=data.draw(st.integers(0, 8 * 24 * 60)))
    extra = Interval(start, start + timedelta(minutes=data.draw(st.integers(1, 600))))
    attendees = list(request.attendees)
    attendees[who] = Attendee(
        attendees[who].key,
        (*attendees[who].busy, extra),
        attendees[who].required,
        attendees[who].busy_known,
    )
    before = {c.start: c for c in candidate_times(request)}
    after = {c.start: c for c in candidate_times(replace(request, attendees=tuple(attendees)))}
    assert after.keys() == before.keys()
    assert {s for s, c in after.items() if c.all_required_free} <= {
        s for s, c in before.items() if c.all_required_free
    }
    for start_at, new in after.items():
        old = before[start_at]
        assert new.free <= old.free and new.busy >= old.busy and new.unknown == old.unknown
        assert len(new.free) <= len(old.free)
        assert old.all_required_free or not new.all_required_free
        touched = extra.overlaps(Interval(new.start, new.end)) and attendees[who].busy_known
        if touched:
            assert attendees[who].key in new.busy
        else:
            assert new == old


@settings(max_examples=300, deadline=None)
@given(slot_requests(), st.integers(2, 8))
def test_the_proposals_are_the_best_times_spread_over_days_and_times_of_day(
    request: SlotRequest, limit: int
) -> None:
    zone = ZoneInfo(request.time_zone)
    every = candidate_times(request)
    proposed = candidate_times(request, limit)
    assert len(proposed) == min(limit, len(every))
    if not proposed:
        return
    hours = request.office_hours
    for candidate in proposed:
        start, end = candidate.start.astimezone(zone), candidate.end.astimezone(zone)
        assert (
            hours.start <= start.time() and end.time() <= hours.end and start.date() == end.date()
        )

    # None left out is better than one proposed; free-for-the-required ones come first.
    chosen = {candidate.start for candidate in proposed}
    left_out = [candidate for candidate in every if candidate.start not in chosen]
    worst = max(quality(candidate, request) for candidate in proposed)
    assert all(worst <= quality(candidate, request) for candidate in left_out)
    required_free = sum(candidate.all_required_free for candidate in every)
    assert sum(candidate.all_required_free for candidate in proposed) == min(limit, required_free)

    # Inside every organisation's preferred hours whenever they leave room for all of them.
    def ideal(candidate: Candidate) -> bool:
        return candidate.all_required_free and all(
            inside(preferred, candidate, zone) for preferred in request.preferred
        )

    if sum(map(ideal, every)) >= limit:
        assert all(map(ideal, proposed))

    # Among the best times there are, the proposals are spread: not all at one time of day
    # when the best ones have more than one, not all on one day when they lie on several.
    best = [c for c in every if quality(c, request) == quality(every[0], request)]
    best_times = {candidate.start.astimezone(zone).time() for candidate in best}
    best_days = {candidate.start.astimezone(zone).date() for candidate in best}
    proposed_times = {candidate.start.astimezone(zone).time() for candidate in proposed}
    proposed_days = {candidate.start.astimezone(zone).date() for candidate in proposed}
    if len(best_times) > 1:
        assert len(proposed_times) > 1
    if len(best_days) > 1 and limit >= 3:
        assert len(proposed_days) > 1


def test_free_days_give_times_spread_over_the_day_not_the_first_of_each() -> None:
    # The old ranking gave 8.00–9.30 on each of five days.
    found = candidate_times(request(MON, date(2026, 12, 18), timedelta(minutes=90)), limit=5)
    assert walls(found) == [
        "14.12. 08.00",
        "15.12. 14.30",
        "16.12. 11.15",
        "17.12. 09.30",
        "18.12. 12.45",
    ]


def test_a_schools_after_twelve_moves_every_time_to_the_afternoon() -> None:
    school = PreferredHours(time(12))
    circle = (Attendee("teacher", (busy(TUE, 12, 16),), required=True), Attendee("social"))
    found = candidate_times(
        request(MON, date(2026, 12, 18), timedelta(minutes=90), *circle, preferred=(school,)),
        limit=5,
    )
    # Tuesday afternoon the teacher is busy: the morning, outside the school's hours, is not
    # offered while the other days' afternoons have room.
    assert walls(found) == [
        "14.12. 12.00",
        "16.12. 14.30",
        "17.12. 13.15",
        "18.12. 12.30",
        "14.12. 13.45",
    ]
    assert all(candidate.preferred == 1 for candidate in found)


# -- bad input --------------------------------------------------------------------------------

TODAY = date(2026, 12, 1)
GOOD = SlotRequest(date(2026, 12, 7), date(2026, 12, 18), HOUR, (Attendee("chair"),))


def changed(**changes: object) -> SlotRequest:
    fields = {name: getattr(GOOD, name) for name in SlotRequest.__dataclass_fields__}
    return SlotRequest(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            changed(window_end=date(2026, 12, 6)),
            "The last day must not be before the first day.",
        ),
        (changed(duration=timedelta(0)), "The meeting must last between 1 minute and 8 hours."),
        (
            changed(duration=timedelta(seconds=59)),
            "The meeting must last between 1 minute and 8 hours.",
        ),
        (
            changed(duration=timedelta(hours=8, minutes=1)),
            "The meeting must last between 1 minute and 8 hours.",
        ),
        (
            changed(office_hours=OfficeHours(time(16), time(8))),
            "Office hours must end after they start.",
        ),
        (
            changed(office_hours=OfficeHours(time(8), time(8))),
            "Office hours must end after they start.",
        ),
        (
            changed(office_hours=OfficeHours.from_digits("")),
            "Office hours need at least one weekday.",
        ),
        (
            changed(blocked=((date(2026, 12, 10), date(2026, 12, 9)),)),
            "A blocked period must not end before it starts.",
        ),
    ],
)
def test_bad_requests_are_refused_by_both(bad: SlotRequest, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate(bad, today=TODAY)
    assert refused.value.message == message
    with pytest.raises(InvalidInput) as refused:
        candidate_times(bad)
    assert refused.value.message == message


def test_good_requests_pass() -> None:
    validate(GOOD, today=TODAY)
    validate(changed(duration=timedelta(minutes=1)), today=TODAY)
    validate(changed(duration=timedelta(hours=8)), today=TODAY)
    validate(GOOD, today=date(2026, 12, 18))  # the last day may be today
    validate(changed(window_end=date(2027, 3, 31)), today=TODAY)  # 115 days
    validate(changed(window_start=date(2026, 12, 1), window_end=date(2027, 3, 30)), today=TODAY)


def test_a_window_in_the_past_is_refused() -> None:
    message = "The last day must not be in the past."
    with pytest.raises(InvalidInput) as refused:
        validate(GOOD, today=date(2026, 12, 19))
    assert refused.value.message == message
    # `not_before` counts in the meeting's zone: 0.30 on 19.12. in Helsinki is 18.12. in UTC.
    late = changed(not_before=datetime(2026, 12, 18, 22, 30, tzinfo=UTC))
    with pytest.raises(InvalidInput) as refused:
        validate(late, today=TODAY)
    assert refused.value.message == message
    validate(changed(not_before=datetime(2026, 12, 18, 21, 30, tzinfo=UTC)), today=TODAY)
    assert candidate_times(late) == []  # candidate_times leaves the clock to the caller


def test_a_window_longer_than_allowed_is_refused() -> None:
    too_long = changed(window_start=date(2026, 12, 1), window_end=date(2027, 3, 31))  # 121 days
    with pytest.raises(InvalidInput) as refused:
        validate(too_long, today=TODAY)
    assert refused.value.message == (
        "The period can be at most {n} day long.",
        "The period can be at most {n} days long.",
    )
    assert refused.value.params == {"n": 120}
    assert str(refused.value) == "The period can be at most 120 days long."
    validate(too_long, today=TODAY, max_window_days=121)
    with pytest.raises(InvalidInput) as refused:
        validate(GOOD, today=TODAY, max_window_days=11)  # GOOD is 12 days
    assert refused.value.params == {"n": 11}


def test_mistakes_in_the_calling_code_are_value_errors() -> None:
    with pytest.raises(ValueError, match="ISO numbers"):
        candidate_times(changed(office_hours=OfficeHours(weekdays=frozenset({0, 1}))))
    with pytest.raises(ValueError, match="whole number of minutes"):
        candidate_times(changed(grid=timedelta(0)))
    with pytest.raises(ValueError, match="whole number of minutes"):
        candidate_times(changed(grid=timedelta(minutes=7, seconds=30)))
    with pytest.raises(ValueError, match="naive"):
        candidate_times(changed(not_before=datetime(2026, 12, 7, 9)))
    with pytest.raises(ValueError, match="key of their own"):
        candidate_times(changed(attendees=(Attendee("chair"), Attendee("chair"))))
    with pytest.raises(ValueError, match="limit"):
        candidate_times(GOOD, limit=-1)


def test_attendee_keys_may_be_any_hashable() -> None:
    keys: list[Hashable] = [1, ("professional", 2), "family"]
    found = candidate_times(
        changed(attendees=tuple(Attendee(key) for key in keys), window_end=date(2026, 12, 7))
    )
    assert all(candidate.free == set(keys) for candidate in found)
