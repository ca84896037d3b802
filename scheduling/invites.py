"""Calendar objects for invitations: iTIP REQUEST and CANCEL (RFC 5546) and PUBLISH feeds.

Pure functions over an `Invitation` the caller builds, with every text already in the
recipient's language: nothing here translates, reads the database or knows Telegram, and nothing
goes into a file that the caller did not give. What leaves Kerralla carries the minimum (see
`docs/product.md`): the caller gives a neutral summary, and each recipient's REQUEST or CANCEL
names only that recipient as ATTENDEE.

Lines, escaping and folding are icalendar's (`to_ical()`); nothing is built by hand. The one
thing icalendar does not do as every client reads it is the VTIMEZONE: its generated definition
is a list of RDATEs that vobject (inside Radicale) and ical.js (inside Thunderbird) read one hour
off in summer. `vtimezone()` writes the RRULE form instead (for Europe/Helsinki exactly the one
in `calendar-invitations.md`), derived from the zone's own transitions and checked against them
for every year the events touch and ten years on. A zone whose rules cannot be said that way
(an odd rule such as "the Friday before the last Sunday", or a rule that changes in those years)
gets no VTIMEZONE: its times are written in UTC (`DTSTART:...Z`), which every client reads right
and shows in its own zone. UTC itself is written with `Z`.
"""

from __future__ import annotations

import calendar as gregorian
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
)

PRODID = "-//Kerralla//Kerralla//FI"

Role = Literal["REQ-PARTICIPANT", "OPT-PARTICIPANT"]
Status = Literal["CONFIRMED", "CANCELLED"]

# Zones that are UTC: written with "Z", no VTIMEZONE needed.
UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Zulu", "Zulu", "UCT", "Universal"})
# How many years past the events a derived VTIMEZONE is checked against the zone's own rules.
CHECK_YEARS = 10
# Where the RRULE observances begin, as in the RRULE forms clients write themselves.
RULE_EPOCH = 1970

_EMAIL = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+$")
_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
# str.splitlines() breaks at all of these; in a TEXT value each is written as an escaped newline.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class Attendee:
    """The one recipient of a REQUEST or CANCEL."""

    email: str
    name: str | None = None
    role: Role = "REQ-PARTICIPANT"

    def __post_init__(self) -> None:
        _check_email(self.email, "attendee email")
        if self.role not in ("REQ-PARTICIPANT", "OPT-PARTICIPANT"):
            raise ValueError(f"attendee role {self.role!r} is not REQ- or OPT-PARTICIPANT")


@dataclass(frozen=True)
class Invitation:
    """One meeting as one recipient's calendar shows it; texts already translated.

    `uid` is stable per meeting; `sequence` rises with every change of time, place or status;
    `starts_at`/`ends_at` are aware instants shown in `time_zone`. LOCATION is `place`, or the
    online link when there is no place, or both (`place, link`) for a hybrid meeting; URL is
    `link` (back to Kerralla). `alarm_before` is the reminder a REQUEST carries (None: none).
    """

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    summary: str
    description: str
    organizer_email: str
    organizer_name: str | None
    link: str
    place: str | None = None
    online_url: str | None = None
    attendee: Attendee | None = None
    status: Status = "CONFIRMED"
    alarm_before: timedelta | None = timedelta(hours=1)

    def __post_init__(self) -> None:
        if not self.uid or _has_controls(self.uid) or any(c.isspace() for c in self.uid):
            raise ValueError("uid must be non-empty, without spaces or control characters")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise ValueError("sequence must be an integer")
        if self.sequence < 0:
            raise ValueError("sequence must not be negative")
        _check_aware(self.starts_at, "starts_at")
        _check_aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        _zone(self.time_zone)  # refuses an unknown zone
        if not _text(self.summary).strip():
            raise ValueError("summary must not be empty")
        _check_email(self.organizer_email, "organizer email")
        _check_url(self.link, "link")
        if self.online_url is not None:
            _check_url(self.online_url, "online_url")
        if self.status not in ("CONFIRMED", "CANCELLED"):
            raise ValueError(f"status {self.status!r} is not CONFIRMED or CANCELLED")
        if self.alarm_before is not None and self.alarm_before <= timedelta(0):
            raise ValueError("alarm_before must be positive")

    @property
    def location(self) -> str | None:
        """LOCATION: the place, else the online link; both for a hybrid meeting."""
        parts = [part for part in (self.place, self.online_url) if part and part.strip()]
        return ", ".join(parts) if parts else None


# -- the three messages ---------------------------------------------------------------------------


def request(invitation: Invitation, dtstamp: datetime) -> bytes:
    """`METHOD:REQUEST` for one recipient: the meeting is fixed, moved or changed."""
    if invitation.status != "CONFIRMED":
        raise ValueError("a cancelled meeting is sent with cancel(), not as a REQUEST")
    _check_recipient(invitation)
    return _calendar("REQUEST", [invitation], dtstamp, itip=True, alarms=True).to_ical()


def cancel(invitation: Invitation, dtstamp: datetime) -> bytes:
    """`METHOD:CANCEL` for one recipient: same UID, the caller's (higher) SEQUENCE, no alarm."""
    _check_recipient(invitation)
    return _calendar("CANCEL", [invitation], dtstamp, itip=True, alarms=False).to_ical()


def publish(events: Iterable[Invitation], dtstamp: datetime, name: str) -> bytes:
    """`METHOD:PUBLISH` for a personal feed or a download: no ATTENDEE, no alarms.

    ORGANIZER stays (RFC 5546 requires it in PUBLISH); a cancelled meeting keeps its UID with
    STATUS:CANCELLED so that a subscribed calendar drops or strikes it.
    """
    cal = _calendar("PUBLISH", list(events), dtstamp, itip=False, alarms=False)
    cal.calendar_name = _text(name)  # NAME (RFC 7986) and X-WR-CALNAME
    return cal.to_ical()


# -- building -------------------------------------------------------------------------------------


def _calendar(
    method: str, events: list[Invitation], dtstamp: datetime, *, itip: bool, alarms: bool
) -> Calendar:
    _check_aware(dtstamp, "dtstamp")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    zones: dict[str, list[Invitation]] = {}
    for event in events:
        zones.setdefault(event.time_zone, []).append(event)
    expressible: set[str] = set()
    for name, in_zone in zones.items():
        years = [
            _local(instant, name).year for e in in_zone for instant in (e.starts_at, e.ends_at)
        ]
        timezone = vtimezone(name, min(years), max(years))
        if timezone is not None:
            cal.add_component(timezone)
            expressible.add(name)
    for event in events:
        cal.add_component(
            _event(
                event,
                method,
                dtstamp,
                zoned=event.time_zone in expressible,
                itip=itip,
                alarm=alarms,
            )
        )
    return cal


def _event(
    invitation: Invitation,
    method: str,
    dtstamp: datetime,
    *,
    zoned: bool,
    itip: bool,
    alarm: bool,
) -> Event:
    event = Event()
    event.add("uid", invitation.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    event.add("dtstart", _when(invitation.starts_at, invitation.time_zone, zoned))
    event.add("dtend", _when(invitation.ends_at, invitation.time_zone, zoned))
    event.add("summary", _text(invitation.summary))
    if _text(invitation.description).strip():
        event.add("description", _text(invitation.description))
    location = invitation.location
    if location:
        event.add("location", _text(location))
    event.add("url", invitation.link)
    event.add("class", "PRIVATE")
    cancelled = method == "CANCEL" or invitation.status == "CANCELLED"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add(
        "organizer",
        _address(invitation.organizer_email, invitation.organizer_name),
    )
    if itip:
        attendee = invitation.attendee
        assert attendee is not None  # _check_recipient
        address = _address(attendee.email, attendee.name)
        address.params["ROLE"] = attendee.role
        address.params["PARTSTAT"] = "NEEDS-ACTION"
        address.params["RSVP"] = "TRUE" if method == "REQUEST" else "FALSE"
        event.add("attendee", address)
    if alarm and invitation.alarm_before is not None:
        reminder = Alarm()
        reminder.add("action", "DISPLAY")
        reminder.add("trigger", -invitation.alarm_before)
        reminder.add("description", _text(invitation.summary))
        event.add_component(reminder)
    return event


def _when(instant: datetime, zone_name: str, zoned: bool) -> datetime:
    """The instant as DTSTART/DTEND take it: local with TZID, or UTC where local is ambiguous.

    A local time in the hour that comes twice on an autumn night means its first occurrence
    (RFC 5545 3.3.5), but ical.js (Thunderbird) reads the second: such a time, whichever of
    the two it is, is written in UTC.
    """
    if not zoned:
        return instant.astimezone(UTC)
    local = instant.astimezone(_zone(zone_name))
    if local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset():
        return instant.astimezone(UTC)
    return local


def _address(email: str, name: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name is not None:
        common_name = _parameter(name)
        if common_name:
            address.params["CN"] = common_name  # icalendar quotes it when it has , ; or :
    return address


# -- the VTIMEZONE --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Transition:
    at: datetime  # UTC
    offset_from: timedelta
    offset_to: timedelta
    name_to: str

    @property
    def local(self) -> datetime:
        """Naive local wall time of the change, in the offset before it (as DTSTART takes it)."""
        return (self.at + self.offset_from).replace(tzinfo=None)


@dataclass(frozen=True)
class _Rule:
    month: int
    weekday: int  # 0 = Monday
    nth: int  # 1..4, or -1 for the last
    time: tuple[int, int, int]
    offset_from: timedelta
    offset_to: timedelta
    name: str

    def on(self, year: int) -> datetime:
        """The naive local wall time of this change in `year`."""
        days = gregorian.monthcalendar(year, self.month)
        matching = [week[self.weekday] for week in days if week[self.weekday]]
        day = matching[-1] if self.nth == -1 else matching[self.nth - 1]
        return datetime(year, self.month, day, *self.time)


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def vtimezone(name: str, first_year: int, last_year: int) -> Timezone | None:
    """The RRULE-form VTIMEZONE of zone `name`, true for `first_year`..`last_year` + 10 years.

    None for UTC, and for a zone whose changes are not "the nth (or last) weekday of a month at
    a fixed time" in every one of those years: the caller writes UTC times then. A zone without
    changes in those years gets one STANDARD observance.
    """
    rules = _zone_rules(name, first_year, last_year)
    if rules is None:
        return None
    timezone = Timezone()
    timezone.add("tzid", name)
    for rule in rules:
        component = TimezoneDaylight() if rule.offset_to > rule.offset_from else TimezoneStandard()
        component.add("tzoffsetfrom", rule.offset_from)
        component.add("tzoffsetto", rule.offset_to)
        component.add("tzname", rule.name)
        if rule.month == 0:  # a fixed offset
            component.add("dtstart", datetime(RULE_EPOCH, 1, 1))
        else:
            component.add("dtstart", rule.on(RULE_EPOCH))
            byday = f"{rule.nth}{_WEEKDAYS[rule.weekday]}"
            component.add("rrule", {"freq": "yearly", "bymonth": rule.month, "byday": byday})
        timezone.add_component(component)
    return timezone


@cache
def _zone_rules(name: str, first_year: int, last_year: int) -> tuple[_Rule, ...] | None:
    """The observances of `vtimezone()`: DAYLIGHT then STANDARD, or one fixed STANDARD."""
    if name in UTC_ZONES:
        return None
    zone = _zone(name)
    years = range(first_year, max(last_year, first_year) + CHECK_YEARS + 1)
    by_year = [_transitions(zone, year) for year in years]
    if not any(by_year):
        instant = datetime(first_year, 1, 1, tzinfo=UTC)
        offset = _offset(zone, instant)
        label = instant.astimezone(zone).tzname() or name
        return (_Rule(0, 0, 0, (0, 0, 0), offset, offset, label),)
    if any(len(changes) != 2 for changes in by_year):
        return None
    firsts, seconds = [y[0] for y in by_year], [y[1] for y in by_year]
    daylight = _rule(firsts, forward=True) or _rule(seconds, forward=True)
    standard = _rule(firsts, forward=False) or _rule(seconds, forward=False)
    if daylight is None or standard is None:
        return None
    if (daylight.offset_from, daylight.offset_to) != (standard.offset_to, standard.offset_from):
        return None
    return (daylight, standard)


def _rule(changes: list[_Transition], *, forward: bool) -> _Rule | None:
    """The one yearly rule that gives every change in `changes` (the same change, one a year).

    `forward`: the clocks go forward (DAYLIGHT); otherwise back (STANDARD).
    """
    first = changes[0]
    if (first.offset_to > first.offset_from) != forward:
        return None
    nths = {1, 2, 3, 4, -1}
    for change in changes:
        local = change.local
        if (
            (change.offset_from, change.offset_to, change.name_to)
            != (first.offset_from, first.offset_to, first.name_to)
            or (local.month, local.weekday()) != (first.local.month, first.local.weekday())
            or local.time() != first.local.time()
        ):
            return None
        days_in_month = gregorian.monthrange(local.year, local.month)[1]
        possible = {(local.day - 1) // 7 + 1}
        if local.day + 7 > days_in_month:
            possible.add(-1)
        nths &= possible
    if not nths:
        return None
    local = first.local
    return _Rule(
        month=local.month,
        weekday=local.weekday(),
        nth=-1 if -1 in nths else min(nths),
        time=(local.hour, local.minute, local.second),
        offset_from=first.offset_from,
        offset_to=first.offset_to,
        name=first.name_to,
    )


@cache
def _transitions(zone: ZoneInfo, year: int) -> list[_Transition]:
    """The changes of UTC offset in `year`, found day by day and then to the second."""
    found: list[_Transition] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        before, after = _offset(zone, day), _offset(zone, following)
        if before != after:
            low, high = day, following  # offset(low) == before, offset(high) != before
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            found.append(
                _Transition(high, before, _offset(zone, high), high.astimezone(zone).tzname() or "")
            )
        day = following
    return found


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


# -- checking and cleaning input ------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _local(instant: datetime, zone_name: str) -> date:
    return instant.astimezone(_zone(zone_name)).date()


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (a naive one has no instant)")


def _check_email(value: str, what: str) -> None:
    if (
        not isinstance(value, str)
        or not value.isascii()
        or not _EMAIL.match(value)
        or _has_controls(value)
    ):
        raise ValueError(f"{what} {value!r} is not a plain (ASCII) email address")


def _check_url(value: str, what: str) -> None:
    if not isinstance(value, str) or not _URL.match(value) or _has_controls(value):
        raise ValueError(f"{what} must be an http(s) URL without spaces or control characters")


def _has_controls(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value)


def _text(value: str) -> str:
    """A TEXT value as it may be written: every kind of line break a newline (escaped `\\n`
    by icalendar), other control characters dropped, tabs kept."""
    value = _LINE_BREAKS.sub("\n", value)
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc")


def _parameter(value: str) -> str:
    """A parameter value (CN): one line, no control characters, no double quote."""
    value = _LINE_BREAKS.sub(" ", value).replace('"', "'")
    return " ".join("".join(c if unicodedata.category(c) != "Cc" else " " for c in value).split())


def _check_recipient(invitation: Invitation) -> None:
    attendee = invitation.attendee
    if attendee is None:
        raise ValueError("a REQUEST or CANCEL names its one recipient as attendee")
    if attendee.email.casefold() == invitation.organizer_email.casefold():
        # Gmail shows no "add to calendar" when the organiser is the recipient.
        raise ValueError("the organizer and the attendee must be different addresses")
