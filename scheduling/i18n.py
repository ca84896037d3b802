"""Translations and Finnish, Swedish and English formatting, shared by both faces.

There is no "current language": every text is rendered for one recipient through a `Translator`
made for that recipient's locale, so two users served at the same moment never mix.

Catalogs live in `locales/<lang>/LC_MESSAGES/messages.po` and are compiled in memory at start.
Dates, weekdays, times and units come from CLDR through Babel; the patterns that put them
together are catalog entries, so each language writes dates the way its readers do (Finland
Swedish `tis 1.12.2026 kl. 14.00`, not Sweden's `tis 2026-12-01`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_timedelta
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from babel.units import format_unit

LOCALES = ("fi", "sv", "en")
DEFAULT_LOCALE = "fi"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

# The CLDR locale each language is formatted in: the Finnish variants where they exist.
CLDR_LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}

# Each language's name in itself, for language choices.
LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}
# The family's choices: the languages, and plain Finnish (selkosuomi) for the questions.
PLAIN_FINNISH = "fi-selko"
FAMILY_LANGUAGES = (
    ("fi", "suomi"),
    (PLAIN_FINNISH, "selkosuomi"),
    ("sv", "svenska"),
    ("en", "English"),
)


def N_(message: str) -> str:
    """Mark a text for translation where it is defined; it is translated where it is shown."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a text with a number `{n}` for translation with plural forms (see N_)."""
    return (singular, plural)


# What `pybabel extract` and the catalog test look for, besides Babel's defaults.
EXTRA_KEYWORDS = {"N_": None, "Nn_": (1, 2)}


def pick_locale(language_code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The language for a Telegram user's `language_code` (e.g. "sv-FI"): fi, sv or en."""
    if language_code:
        primary = language_code.replace("_", "-").split("-")[0].strip().lower()
        if primary in LOCALES:
            return primary
    return default


def negotiate_locale(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The best of our languages for an HTTP `Accept-Language` header."""
    if not accept_language:
        return default
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LOCALES and quality > 0:
            weighted.append((-quality, index, primary))
    return min(weighted)[2] if weighted else default


@cache
def catalog(locale: str) -> Translations:
    """The compiled catalog of one language, built from its .po file once per process."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as po_file:
        po = read_po(po_file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, po, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@dataclass(frozen=True)
class Translator:
    """Texts and formats for one recipient's language."""

    locale: str
    time_zone: str = "Europe/Helsinki"

    # -- texts --------------------------------------------------------------------------------

    def gettext(self, message: str, **params: Any) -> str:
        text = catalog(self.locale).gettext(message)
        return text.format(**params) if params else text

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """A count and the numbers beside it are written as the language writes them
        (`10 000` in Finnish and Swedish, `10,000` in English)."""
        text = catalog(self.locale).ngettext(singular, plural, n)
        numbers = {
            key: format_decimal(value, locale=self.cldr)
            for key, value in {"n": n, **params}.items()
            if isinstance(value, int) and not isinstance(value, bool)
        }
        return text.format(**{"n": n, **params, **numbers})

    def pgettext(self, context: str, message: str, **params: Any) -> str:
        text = catalog(self.locale).pgettext(context, message)
        return text.format(**params) if params else text

    # -- dates and times, always in the meeting's time zone -----------------------------------

    @property
    def cldr(self) -> Locale:
        return Locale.parse(CLDR_LOCALES[self.locale])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("an instant must carry its time zone")
        return instant.astimezone(self.zone)

    def date(self, day: date | datetime, *, year: bool = True) -> str:
        """`ti 1.12.2026`, `tis 1.12.2026`, `Tue 1 Dec 2026` (without year: `ti 1.12.`)."""
        if isinstance(day, datetime):
            day = self.local(day).date()
        if year:
            # Translators: a CLDR date pattern with the weekday; Finnish "EEE d.M.y".
            pattern = self.pgettext("date pattern", "EEE d MMM y")
        else:
            # Translators: a CLDR date pattern with the weekday, no year; Finnish "EEE d.M.".
            pattern = self.pgettext("date pattern", "EEE d MMM")
        return format_datetime(
            datetime.combine(day, datetime.min.time()), pattern, locale=self.cldr
        )

    def time(self, instant: datetime) -> str:
        """`14.00` in Finnish and Finland Swedish, `14:00` in English (CLDR's `Hm`)."""
        return format_skeleton("Hm", self.local(instant), locale=self.cldr)

    def datetime(self, instant: datetime) -> str:
        """`ti 1.12.2026 klo 14.00`, `tis 1.12.2026 kl. 14.00`, `Tue 1 Dec 2026, 14:00`."""
        return self.gettext("{date}, {time}", date=self.date(instant), time=self.time(instant))

    def time_range(self, start: datetime, end: datetime, *, year: bool = False) -> str:
        """`ti 1.12. klo 14.00–15.30`; a range over midnight names both days."""
        if self.local(start).date() != self.local(end).date():
            return self.gettext(
                "{start} – {end}", start=self.datetime(start), end=self.datetime(end)
            )
        times = self.gettext("{start}–{end}", start=self.time(start), end=self.time(end))
        return self.gettext("{date}, {time}", date=self.date(start, year=year), time=times)

    def duration(self, minutes: int) -> str:
        """`1 t 30 min`, `1 tim 30 min`, `1 hr 30 min`: CLDR's short units."""
        hours, rest = divmod(int(minutes), 60)
        parts = []
        if hours:
            parts.append(format_unit(hours, "duration-hour", length="short", locale=self.cldr))
        if rest or not hours:
            parts.append(format_unit(rest, "duration-minute", length="short", locale=self.cldr))
        return format_list(parts, style="unit-narrow", locale=self.cldr)

    def relative_day(self, day: date | datetime, today: date) -> str:
        """`tänään`, `huomenna`, `eilen`; further away, CLDR's `3 päivän päästä`."""
        if isinstance(day, datetime):
            day = self.local(day).date()
        offset = (day - today).days
        if offset == 0:
            return self.gettext("today")
        if offset == 1:
            return self.gettext("tomorrow")
        if offset == -1:
            return self.gettext("yesterday")
        return format_timedelta(
            timedelta(days=offset),
            granularity="day",
            threshold=400,
            add_direction=True,
            locale=self.cldr,
        )

    @property
    def first_weekday(self) -> int:
        """0 = Monday: the week starts on Monday in all our languages."""
        return self.cldr.first_week_day


@cache
def translator(locale: str, time_zone: str = "Europe/Helsinki") -> Translator:
    return Translator(locale if locale in LOCALES else DEFAULT_LOCALE, time_zone)
