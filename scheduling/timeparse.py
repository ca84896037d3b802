"""Dates and times typed as Finns write them, in Finnish, Swedish or English.

`ti 1.12. klo 14`, `1.12.2026 14.00`, `1.12. 9.30`, `huomenna klo 10`, `i morgon kl. 9`,
`tomorrow 14:30`; date ranges `1.12.–18.12.` Read in the meeting's time zone. What cannot be
read raises InvalidInput with an example of what works.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import InvalidInput
from .i18n import N_

WEEKDAYS = {
    0: ("ma", "maanantai", "mån", "måndag", "mon", "monday"),
    1: ("ti", "tiistai", "tis", "tisdag", "tue", "tuesday"),
    2: ("ke", "keskiviikko", "ons", "onsdag", "wed", "wednesday"),
    3: ("to", "torstai", "tor", "torsdag", "thu", "thursday"),
    4: ("pe", "perjantai", "fre", "fredag", "fri", "friday"),
    5: ("la", "lauantai", "lör", "lördag", "sat", "saturday"),
    6: ("su", "sunnuntai", "sön", "söndag", "sun", "sunday"),
}
WEEKDAY_OF = {name: day for day, names in WEEKDAYS.items() for name in names}
RELATIVE = {
    "tänään": 0,
    "huomenna": 1,
    "ylihuomenna": 2,
    "idag": 0,
    "imorgon": 1,
    "iövermorgon": 2,
    "today": 0,
    "tomorrow": 1,
}
AT = r"(?:klo|kl\.?|at)"

DATE = r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{2}|\d{4})?"
TIME = r"(?P<hour>\d{1,2})(?:[.:](?P<minute>\d{2}))?"
MOMENT = re.compile(
    rf"^(?:(?P<relative>[a-zåäö]+)|(?:(?P<weekday>[a-zåäö]+)\.?\s+)?{DATE})"
    rf"\s*,?\s*(?:{AT}\s*)?{TIME}$"
)
ONE_DATE = re.compile(rf"^(?:(?P<weekday>[a-zåäö]+)\.?\s+)?{DATE}$")
RANGE = re.compile(r"^(?P<first>[^–—-]+?)\s*[–—-]\s*(?P<last>[^–—-]+)$")

TIME_EXAMPLE = N_(
    "I could not read that time. Write it like this: ti 1.12. klo 14, 1.12.2026 14.00 or "
    "huomenna klo 10."
)
DATE_EXAMPLE = N_("I could not read that date. Write it like this: 18.12. or 18.12.2026.")
RANGE_EXAMPLE = N_("I could not read those dates. Write them like this: 1.12.–18.12.")
NO_SUCH_DATE = N_("There is no such date: {text}.")
WRONG_WEEKDAY = N_("The weekday does not match the date: {text}.")
NO_SUCH_TIME = N_("That time does not exist on the night the clocks change: {text}.")


def _normalise(text: str) -> str:
    text = " ".join(text.strip().lower().split())
    for words, joined in (
        ("i dag", "idag"),
        ("i morgon", "imorgon"),
        ("i övermorgon", "iövermorgon"),
    ):
        text = text.replace(words, joined)
    return text


def _year(day: int, month: int, year: str | None, today: date) -> int:
    if year is None:
        # A date without a year is the next such date from today on.
        try:
            return today.year if date(today.year, month, day) >= today else today.year + 1
        except ValueError:
            return today.year + 1 if (month, day) == (2, 29) else today.year
    return 2000 + int(year) if len(year) == 2 else int(year)


def _date(match: re.Match[str], text: str, today: date) -> date:
    day, month = int(match["day"]), int(match["month"])
    try:
        found = date(_year(day, month, match["year"], today), month, day)
    except ValueError:
        raise InvalidInput(NO_SUCH_DATE, text=text) from None
    weekday = match["weekday"]
    if weekday is not None and WEEKDAY_OF.get(weekday) != found.weekday():
        if weekday in WEEKDAY_OF:
            raise InvalidInput(WRONG_WEEKDAY, text=text)
        raise InvalidInput(DATE_EXAMPLE)
    return found


def parse_date(text: str, today: date) -> date:
    """`18.12.`, `ke 18.12.2026`, `huomenna`."""
    clean = _normalise(text)
    if clean in RELATIVE:
        return today + timedelta(days=RELATIVE[clean])
    match = ONE_DATE.match(clean)
    if match is None:
        raise InvalidInput(DATE_EXAMPLE)
    return _date(match, text.strip(), today)


def parse_date_range(text: str, today: date) -> tuple[date, date]:
    """`1.12.–18.12.`, `1.12.2026 - 15.1.2027`."""
    match = RANGE.match(_normalise(text))
    if match is None:
        raise InvalidInput(RANGE_EXAMPLE)
    try:
        return parse_date(match["first"], today), parse_date(match["last"], today)
    except InvalidInput as error:
        if error.message in (DATE_EXAMPLE,):
            raise InvalidInput(RANGE_EXAMPLE) from None
        raise


def parse_moment(text: str, today: date, time_zone: str) -> datetime:
    """A local date and time as an aware datetime in `time_zone`."""
    clean = _normalise(text)
    match = MOMENT.match(clean)
    if match is None:
        raise InvalidInput(TIME_EXAMPLE)
    if match["relative"] is not None:
        if match["relative"] not in RELATIVE or match["weekday"] is not None:
            raise InvalidInput(TIME_EXAMPLE)
        day = today + timedelta(days=RELATIVE[match["relative"]])
    else:
        day = _date(match, text.strip(), today)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(TIME_EXAMPLE)
    zone = ZoneInfo(time_zone)
    moment = datetime.combine(day, time(hour, minute), zone)
    # A wall time skipped when the clocks go forward does not survive a round trip.
    if moment.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != moment.replace(
        tzinfo=None
    ):
        raise InvalidInput(NO_SUCH_TIME, text=text.strip())
    return moment
