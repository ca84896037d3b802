"""Dates, times and durations as Finns, Finland Swedes and English readers write them.

Always in the meeting's time zone (Europe/Helsinki), including the nights when the clocks turn.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scheduling.i18n import LOCALES, negotiate_locale, pick_locale, translator

TUESDAY_14 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 14.00 in Helsinki (EET, +2)
TUESDAY_1530 = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
SUMMER_9 = datetime(2026, 6, 9, 6, 5, tzinfo=UTC)  # 9.05 in Helsinki (EEST, +3)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fi", "ti 1.12.2026 klo 14.00"),
        ("sv", "tis 1.12.2026 kl. 14.00"),
        ("en", "Tue 1 Dec 2026, 14:00"),
    ],
)
def test_date_and_time(locale: str, expected: str) -> None:
    assert translator(locale).datetime(TUESDAY_14) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fi", "ti 1.12. klo 14.00–15.30"),
        ("sv", "tis 1.12. kl. 14.00–15.30"),
        ("en", "Tue 1 Dec, 14:00–15:30"),
    ],
)
def test_time_range(locale: str, expected: str) -> None:
    assert translator(locale).time_range(TUESDAY_14, TUESDAY_1530) == expected


def test_summer_time_and_single_digit_hours() -> None:
    assert translator("fi").datetime(SUMMER_9) == "ti 9.6.2026 klo 9.05"
    assert translator("sv").datetime(SUMMER_9) == "tis 9.6.2026 kl. 09.05"
    assert translator("en").datetime(SUMMER_9) == "Tue 9 Jun 2026, 09:05"


def test_a_range_over_midnight_names_both_days() -> None:
    start = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 22.00
    end = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 1.00 the next day
    assert translator("fi").time_range(start, end) == (
        "ti 1.12.2026 klo 22.00 – ke 2.12.2026 klo 1.00"
    )


def test_the_night_summer_time_begins() -> None:
    # Sunday 29 March 2026: at 3.00 EET the clocks jump to 4.00 EEST; 3.30 does not exist.
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    fi = translator("fi")
    assert fi.datetime(before) == "su 29.3.2026 klo 2.30"
    assert fi.datetime(after) == "su 29.3.2026 klo 4.00"
    # One real hour and a half, shown as the clock on the wall reads.
    assert fi.time_range(before, datetime(2026, 3, 29, 2, 0, tzinfo=UTC)) == (
        "su 29.3. klo 2.30–5.00"
    )
    assert translator("en").datetime(after) == "Sun 29 Mar 2026, 04:00"


def test_the_night_summer_time_ends() -> None:
    # Sunday 25 October 2026: at 4.00 EEST the clocks go back to 3.00 EET; 3.30 happens twice.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    sv = translator("sv")
    assert sv.datetime(first) == "sön 25.10.2026 kl. 03.30"
    assert sv.datetime(second) == "sön 25.10.2026 kl. 03.30"
    assert translator("fi").time_range(first, second) == "su 25.10. klo 3.30–3.30"
    assert translator("fi").datetime(datetime(2026, 10, 25, 2, 0, tzinfo=UTC)) == (
        "su 25.10.2026 klo 4.00"
    )


@pytest.mark.parametrize(
    ("minutes", "fi", "sv", "en"),
    [
        (90, "1 t 30 min", "1 tim 30 min", "1 hr 30 mins"),
        (60, "1 t", "1 tim", "1 hr"),
        (45, "45 min", "45 min", "45 mins"),
        (150, "2 t 30 min", "2 tim 30 min", "2 hrs 30 mins"),
    ],
)
def test_durations(minutes: int, fi: str, sv: str, en: str) -> None:
    assert translator("fi").duration(minutes) == fi
    assert translator("sv").duration(minutes) == sv
    assert translator("en").duration(minutes) == en


@pytest.mark.parametrize(
    ("offset_day", "fi", "sv", "en"),
    [
        (date(2026, 12, 1), "tänään", "i dag", "today"),
        (date(2026, 12, 2), "huomenna", "i morgon", "tomorrow"),
        (date(2026, 11, 30), "eilen", "i går", "yesterday"),
        (date(2026, 12, 4), "3 päivän päästä", "om 3 dagar", "in 3 days"),
        (date(2026, 11, 28), "3 päivää sitten", "för 3 dagar sedan", "3 days ago"),
    ],
)
def test_relative_days(offset_day: date, fi: str, sv: str, en: str) -> None:
    today = date(2026, 12, 1)
    assert translator("fi").relative_day(offset_day, today) == fi
    assert translator("sv").relative_day(offset_day, today) == sv
    assert translator("en").relative_day(offset_day, today) == en


def test_relative_day_of_an_instant_is_taken_in_helsinki() -> None:
    # 23.30 UTC on 1 December is already 2 December in Helsinki.
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert translator("fi").relative_day(late, date(2026, 12, 1)) == "huomenna"


@pytest.mark.parametrize("locale", LOCALES)
def test_weeks_start_on_monday(locale: str) -> None:
    assert translator(locale).first_weekday == 0


def test_another_time_zone_is_honoured() -> None:
    assert translator("fi", "Europe/Stockholm").datetime(TUESDAY_14) == "ti 1.12.2026 klo 13.00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        translator("fi").datetime(datetime(2026, 12, 1, 14, 0))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fi", "fi"),
        ("fi-FI", "fi"),
        ("sv", "sv"),
        ("sv-SE", "sv"),
        ("en-GB", "en"),
        ("en", "en"),
        ("de", "fi"),
        ("", "fi"),
        (None, "fi"),
    ],
)
def test_language_from_telegram(code: str | None, expected: str) -> None:
    assert pick_locale(code) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sv-FI,sv;q=0.9,fi;q=0.8,en;q=0.5", "sv"),
        ("de-DE,de;q=0.9,en;q=0.8", "en"),
        ("en;q=0.4, fi;q=0.6", "fi"),
        ("de", "fi"),
        ("", "fi"),
        ("sv;q=0, en", "en"),
        ("garbage;q=x, sv", "sv"),
    ],
)
def test_language_from_the_browser(header: str, expected: str) -> None:
    assert negotiate_locale(header) == expected
