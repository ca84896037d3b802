"""Times and dates typed as Finns write them, read in Helsinki time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduling.errors import InvalidInput
from scheduling.i18n import translator
from scheduling.timeparse import parse_date, parse_date_range, parse_moment

HELSINKI = ZoneInfo("Europe/Helsinki")
TODAY = date(2026, 11, 23)  # a Monday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ti 1.12. klo 14", at(2026, 12, 1, 14, 0)),
        ("1.12.2026 14.00", at(2026, 12, 1, 14, 0)),
        ("1.12. 9.30", at(2026, 12, 1, 9, 30)),
        ("huomenna klo 10", at(2026, 11, 24, 10, 0)),
        ("Huomenna  klo 10.15", at(2026, 11, 24, 10, 15)),
        ("tis 1.12. kl. 14.00", at(2026, 12, 1, 14, 0)),
        ("i morgon kl 9", at(2026, 11, 24, 9, 0)),
        ("tomorrow at 14:30", at(2026, 11, 24, 14, 30)),
        ("Tue 1.12.26 14:00", at(2026, 12, 1, 14, 0)),
        ("15.1. 8", at(2027, 1, 15, 8, 0)),  # January comes next year
        ("29.3.2026 4.00", at(2026, 3, 29, 4, 0)),  # summer time has begun
    ],
)
def test_times_as_people_write_them(text: str, expected: datetime) -> None:
    moment = parse_moment(text, TODAY, "Europe/Helsinki")
    assert moment == expected
    assert moment.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("text", "finnish"),
    [
        (
            "ensi viikolla",
            "En saanut selvää ajasta. Kirjoita se näin: ti 1.12. klo 14, "
            "1.12.2026 14.00 tai huomenna klo 10.",
        ),
        (
            "1.12.",
            "En saanut selvää ajasta. Kirjoita se näin: ti 1.12. klo 14, 1.12.2026 14.00 "
            "tai huomenna klo 10.",
        ),
        ("31.11. klo 14", "Tällaista päivämäärää ei ole: 31.11. klo 14."),
        ("ke 1.12. klo 14", "Viikonpäivä ei täsmää päivämäärään: ke 1.12. klo 14."),
        (
            "1.12. klo 25",
            "En saanut selvää ajasta. Kirjoita se näin: ti 1.12. klo 14, "
            "1.12.2026 14.00 tai huomenna klo 10.",
        ),
        (
            "29.3.2026 3.30",
            "Tätä kellonaikaa ei ole yöllä, jolloin kelloja siirretään: 29.3.2026 3.30.",
        ),
    ],
)
def test_what_cannot_be_read_gets_an_example(text: str, finnish: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_moment(text, TODAY, "Europe/Helsinki")
    assert refused.value.render(translator("fi")) == finnish


def test_dates_and_ranges() -> None:
    assert parse_date("18.12.", TODAY) == date(2026, 12, 18)
    assert parse_date("pe 18.12.2026", TODAY) == date(2026, 12, 18)
    assert parse_date("ylihuomenna", TODAY) == date(2026, 11, 25)
    assert parse_date_range("1.12.–18.12.", TODAY) == (date(2026, 12, 1), date(2026, 12, 18))
    assert parse_date_range("1.12.2026 - 15.1.2027", TODAY) == (
        date(2026, 12, 1),
        date(2027, 1, 15),
    )
    with pytest.raises(InvalidInput) as refused:
        parse_date_range("joulukuussa", TODAY)
    assert refused.value.render(translator("sv")) == (
        "Jag kunde inte läsa datumen. Skriv dem så här: 1.12.–18.12."
    )
