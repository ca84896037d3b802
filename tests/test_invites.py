"""Calendar objects read by three parsers from three code bases (icalendar, vobject — the one
inside Radicale — and ical), and stored and searched by a real Radicale over CalDAV."""

from __future__ import annotations

import base64
import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import aiohttp
import icalendar
import pytest
import vobject
from ical.calendar_stream import IcsCalendarStream

from scheduling.invites import (
    PRODID,
    Attendee,
    Invitation,
    cancel,
    publish,
    request,
    vtimezone,
)

from .calendar_servers import RadicaleServer, radicale_server

# The VTIMEZONE from calendar-invitations.md, as every client reads it.
HELSINKI_RRULE_FORM = b"""BEGIN:VTIMEZONE\r
TZID:Europe/Helsinki\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0300\r
TZNAME:EEST\r
DTSTART:19700329T030000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0300\r
TZOFFSETTO:+0200\r
TZNAME:EET\r
DTSTART:19701025T040000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""

DTSTAMP = datetime(2026, 5, 4, 9, 15, tzinfo=UTC)
ORGANIZER = "kerralla@kerralla.test"
LISA = Attendee("liisa.laine@koulu.test", "Liisa Laine", "REQ-PARTICIPANT")
PEKKA = Attendee("pekka@perhekeskus.test", "Virtanen, Pekka", "OPT-PARTICIPANT")

SUMMER = (datetime(2026, 6, 16, 11, tzinfo=UTC), datetime(2026, 6, 16, 12, 30, tzinfo=UTC))
WINTER = (datetime(2026, 12, 1, 12, tzinfo=UTC), datetime(2026, 12, 1, 13, tzinfo=UTC))
# 01:30 EET to 04:30 EEST: the clocks go from 03:00 to 04:00 in between; two hours long.
SPRING_NIGHT = (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
# 03:30 EEST to 03:30 EET: the hour from 03:00 to 04:00 comes twice.
AUTUMN_NIGHT = (
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
)

# Every kind of character a TEXT value must keep: escapes, newlines, emoji (some of them
# several code points), Finnish and Swedish letters, and a 200-character line of multi-byte
# characters that has to be folded somewhere inside it, never inside a character.
TRICKY_TEXT = (
    'Pilkku, puolipiste; kenoviiva \\ kaksoispiste: ja lainausmerkki "\n'
    "Toinen rivi:\täöå ÅÄÖ ß 🙂 👨‍👩‍👧 \\n ei rivinvaihto\n\n" + "äöå🙂" * 50 + "\n" + "x" * 200
)


def invitation(**changes: Any) -> Invitation:
    base = Invitation(
        uid="meeting-41f7c2@kerralla.test",
        sequence=0,
        starts_at=SUMMER[0],
        ends_at=SUMMER[1],
        time_zone="Europe/Helsinki",
        summary="Tapaaminen",
        description="Kerralla: https://kerralla.test/m/abc",
        organizer_email=ORGANIZER,
        organizer_name="Virtanen, Maija",
        link="https://kerralla.test/m/abc",
        place="Perhekeskus Kuopio, neuvotteluhuone 2",
        online_url=None,
        attendee=LISA,
    )
    return dataclasses.replace(base, **changes)


# -- reading with three parsers -------------------------------------------------------------------


def parsed_events(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Each parser's view of the events: UTC instants, texts, status, sequence."""
    text = data.decode("utf-8")
    views: dict[str, list[dict[str, Any]]] = {}

    cal = icalendar.Calendar.from_ical(data)
    views["icalendar"] = [
        {
            "uid": str(e["UID"]),
            "start": e.start.astimezone(UTC),
            "end": e.end.astimezone(UTC),
            "summary": str(e["SUMMARY"]),
            "description": str(e.get("DESCRIPTION", "")),
            "location": str(e.get("LOCATION", "")),
            "sequence": int(e["SEQUENCE"]),
            "status": str(e["STATUS"]),
        }
        for e in cal.events
    ]

    vcal = vobject.readOne(text)
    views["vobject"] = [
        {
            "uid": e.uid.value,
            "start": e.dtstart.value.astimezone(UTC),
            "end": e.dtend.value.astimezone(UTC),
            "summary": e.summary.value,
            "description": e.description.value if hasattr(e, "description") else "",
            "location": e.location.value if hasattr(e, "location") else "",
            "sequence": int(e.sequence.value),
            "status": e.status.value,
        }
        for e in vcal.contents.get("vevent", [])
    ]

    strict = IcsCalendarStream.calendar_from_ics(text)  # raises on what RFC 5545 forbids
    views["ical"] = [
        {
            "uid": e.uid,
            "start": e.dtstart.astimezone(UTC),
            "end": e.dtend.astimezone(UTC),
            "summary": e.summary,
            "description": e.description or "",
            "location": e.location or "",
            "sequence": e.sequence,
            "status": e.status.value if e.status else None,
        }
        for e in strict.events
    ]
    return views


def instants(data: bytes) -> dict[str, list[tuple[datetime, datetime]]]:
    return {
        parser: [(event["start"], event["end"]) for event in events]
        for parser, events in parsed_events(data).items()
    }


def renamed_zone(data: bytes, zone: str = "Europe/Helsinki") -> bytes:
    """The same file with a TZID no parser knows, so that each must read our VTIMEZONE.

    A fresh name each time: icalendar and vobject remember a VTIMEZONE by its TZID for the rest
    of the process, and the first definition of a name would win.
    """
    return data.replace(zone.encode(), f"Kerralla-Test/{uuid.uuid4().hex}".encode())


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    for line in lines:
        assert b"\r" not in line and b"\n" not in line
    return lines


def unfolded(data: bytes) -> list[str]:
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


def count(data: bytes, prefix: str) -> int:
    return sum(1 for line in unfolded(data) if line.split(":")[0].split(";")[0] == prefix)


# -- the time zone --------------------------------------------------------------------------------


def test_helsinki_vtimezone_is_the_rrule_form_of_the_doc() -> None:
    expected = icalendar.Timezone.from_ical(HELSINKI_RRULE_FORM)
    made = vtimezone("Europe/Helsinki", 2026, 2026)
    assert made is not None
    assert made.to_ical() == expected.to_ical()
    data = request(invitation(), DTSTAMP)
    assert b"RDATE" not in data
    assert count(data, "BEGIN") == 6  # VCALENDAR, VTIMEZONE, DAYLIGHT, STANDARD, VEVENT, VALARM
    assert made.to_ical() in data


@pytest.mark.parametrize(
    "times",
    [SUMMER, WINTER, SPRING_NIGHT, AUTUMN_NIGHT],
    ids=["summer", "winter", "spring", "fall"],
)
@pytest.mark.parametrize("make", [request, cancel, "publish"])
def test_every_parser_reads_the_same_instants(times: tuple[datetime, datetime], make: Any) -> None:
    meeting = invitation(starts_at=times[0], ends_at=times[1], sequence=1)
    data = publish([meeting], DTSTAMP, "x") if make == "publish" else make(meeting, DTSTAMP)
    expected = [times]
    assert instants(data) == {"icalendar": expected, "vobject": expected, "ical": expected}
    # The definition itself, not the parsers' own knowledge of Europe/Helsinki:
    assert instants(renamed_zone(data)) == {
        "icalendar": expected,
        "vobject": expected,
        "ical": expected,
    }


def test_times_are_written_in_the_meetings_zone() -> None:
    lines = unfolded(request(invitation(), DTSTAMP))
    assert "DTSTART;TZID=Europe/Helsinki:20260616T140000" in lines
    assert "DTEND;TZID=Europe/Helsinki:20260616T153000" in lines
    assert "DTSTAMP:20260504T091500Z" in lines
    winter = unfolded(request(invitation(starts_at=WINTER[0], ends_at=WINTER[1]), DTSTAMP))
    assert "DTSTART;TZID=Europe/Helsinki:20261201T140000" in winter


def test_a_time_in_the_repeated_hour_is_written_in_utc() -> None:
    # 03:30 on 25 October 2026 happens twice in Helsinki: local time would be ambiguous (and
    # ical.js reads "the first" as the second).
    meeting = invitation(starts_at=AUTUMN_NIGHT[0], ends_at=AUTUMN_NIGHT[1] + timedelta(hours=1))
    lines = unfolded(request(meeting, DTSTAMP))
    assert "DTSTART:20261025T003000Z" in lines  # the first 03:30
    assert "DTEND;TZID=Europe/Helsinki:20261025T043000" in lines  # after the repeat


def test_other_zones_get_a_derived_rrule_form_or_utc() -> None:
    new_york = invitation(
        time_zone="America/New_York",
        starts_at=datetime(2026, 7, 1, 14, tzinfo=UTC),
        ends_at=datetime(2026, 7, 1, 15, tzinfo=UTC),
    )
    data = request(new_york, DTSTAMP)
    assert "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3" in unfolded(data)
    assert "DTSTART;TZID=America/New_York:20260701T100000" in unfolded(data)
    expected = [(new_york.starts_at, new_york.ends_at)]
    assert set(map(tuple, instants(data).values())) == {tuple(expected)}
    renamed = renamed_zone(data, "America/New_York")
    assert set(map(tuple, instants(renamed).values())) == {tuple(expected)}

    # Israel changes on "the Friday before the last Sunday of March": no RRULE says that.
    for zone in ("Asia/Jerusalem", "UTC"):
        data = request(invitation(time_zone=zone), DTSTAMP)
        assert b"VTIMEZONE" not in data
        assert "DTSTART:20260616T110000Z" in unfolded(data)
        assert set(map(tuple, instants(data).values())) == {(SUMMER,)}


def test_a_zone_without_changes_has_one_standard_observance() -> None:
    made = vtimezone("Asia/Tokyo", 2026, 2026)
    assert made is not None
    assert [c.name for c in made.subcomponents] == ["STANDARD"]
    data = request(invitation(time_zone="Asia/Tokyo"), DTSTAMP)
    assert "DTSTART;TZID=Asia/Tokyo:20260616T200000" in unfolded(data)
    assert set(map(tuple, instants(renamed_zone(data)).values())) == {(SUMMER,)}


# -- the messages ---------------------------------------------------------------------------------


def test_request_has_what_clients_need() -> None:
    data = request(invitation(sequence=2), DTSTAMP)
    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "REQUEST"
    assert cal["VERSION"] == "2.0"
    assert cal["PRODID"] == PRODID
    [event] = cal.events
    assert event["UID"] == "meeting-41f7c2@kerralla.test"
    assert event["SEQUENCE"] == 2
    assert event["DTSTAMP"].dt == DTSTAMP
    assert event["CLASS"] == "PRIVATE"
    assert event["STATUS"] == "CONFIRMED"
    assert event["URL"] == "https://kerralla.test/m/abc"
    assert event["LOCATION"] == "Perhekeskus Kuopio, neuvotteluhuone 2"
    assert "DURATION" not in event
    organizer = event["ORGANIZER"]
    assert organizer == "mailto:kerralla@kerralla.test"
    assert organizer.params["CN"] == "Virtanen, Maija"
    assert 'ORGANIZER;CN="Virtanen, Maija":mailto:kerralla@kerralla.test' in unfolded(data)
    attendee = event["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert attendee == "mailto:liisa.laine@koulu.test"
    assert dict(attendee.params) == {
        "CN": "Liisa Laine",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }
    [alarm] = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(hours=-1)
    assert alarm["DESCRIPTION"] == "Tapaaminen"
    assert count(data, "ATTENDEE") == 1


def test_each_recipient_gets_a_copy_naming_only_them() -> None:
    copies = {a.email: request(invitation(attendee=a), DTSTAMP) for a in (LISA, PEKKA)}
    for email, data in copies.items():
        assert count(data, "ATTENDEE") == 1
        [event] = icalendar.Calendar.from_ical(data).events
        assert event["ATTENDEE"] == f"mailto:{email}"
        others = {LISA.email, PEKKA.email} - {email}
        assert not any(other.encode() in data for other in others)
        vevent = vobject.readOne(data.decode()).vevent
        assert [a.value for a in vevent.attendee_list] == [f"mailto:{email}"]
    pekka = icalendar.Calendar.from_ical(copies[PEKKA.email]).events[0]["ATTENDEE"]
    assert pekka.params["ROLE"] == "OPT-PARTICIPANT"
    assert pekka.params["CN"] == "Virtanen, Pekka"


def test_cancel_replaces_the_same_event_for_good() -> None:
    first = request(invitation(sequence=0), DTSTAMP)
    later = DTSTAMP + timedelta(days=2)
    data = cancel(invitation(sequence=1), later)
    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "CANCEL"
    [event] = cal.events
    [before] = icalendar.Calendar.from_ical(first).events
    assert event["UID"] == before["UID"]
    assert event["SEQUENCE"] > before["SEQUENCE"]
    assert event["STATUS"] == "CANCELLED"
    assert event["DTSTAMP"].dt == later
    assert event["ORGANIZER"] == "mailto:kerralla@kerralla.test"
    assert event["ATTENDEE"] == "mailto:liisa.laine@koulu.test"
    assert b"VALARM" not in data
    assert count(data, "ATTENDEE") == 1
    for events in parsed_events(data).values():
        assert [(e["status"], e["sequence"]) for e in events] == [("CANCELLED", 1)]


def test_publish_is_a_feed_without_attendees_or_alarms() -> None:
    moved = invitation(uid="a@kerralla.test", sequence=1)
    dropped = invitation(
        uid="b@kerralla.test",
        sequence=3,
        status="CANCELLED",
        starts_at=WINTER[0],
        ends_at=WINTER[1],
        place=None,
        online_url="https://meet.example.test/j/123?pwd=a;b,c",
    )
    data = publish([moved, dropped], DTSTAMP, "Kerralla – Maija Virtanen")
    cal = icalendar.Calendar.from_ical(data)
    assert cal["METHOD"] == "PUBLISH"
    assert cal["X-WR-CALNAME"] == "Kerralla – Maija Virtanen"
    assert b"ATTENDEE" not in data
    assert b"VALARM" not in data
    assert count(data, "BEGIN") == 6  # VCALENDAR, VTIMEZONE (DAYLIGHT, STANDARD), 2 x VEVENT
    assert [e["ORGANIZER"] for e in cal.events] == ["mailto:kerralla@kerralla.test"] * 2
    for parser, events in parsed_events(data).items():
        assert [(e["uid"], e["status"], e["sequence"]) for e in events] == [
            ("a@kerralla.test", "CONFIRMED", 1),
            ("b@kerralla.test", "CANCELLED", 3),
        ], parser
        assert events[1]["location"] == "https://meet.example.test/j/123?pwd=a;b,c"
        assert [(e["start"], e["end"]) for e in events] == [SUMMER, WINTER]
    assert publish([], DTSTAMP, "Tyhjä").startswith(b"BEGIN:VCALENDAR\r\n")


def test_a_hybrid_meeting_names_place_and_link() -> None:
    data = request(invitation(online_url="https://meet.example.test/x"), DTSTAMP)
    [event] = icalendar.Calendar.from_ical(data).events
    assert event["LOCATION"] == "Perhekeskus Kuopio, neuvotteluhuone 2, https://meet.example.test/x"


def test_nothing_is_added_that_the_caller_did_not_give() -> None:
    bare = invitation(description="", place=None, online_url=None, alarm_before=None)
    data = request(bare, DTSTAMP)
    [event] = icalendar.Calendar.from_ical(data).events
    assert "DESCRIPTION" not in event and "LOCATION" not in event
    assert not event.walk("VALARM")
    texts = {str(v) for _, v in event.property_items() if isinstance(v, icalendar.vText)}
    assert texts <= {"Tapaaminen", "meeting-41f7c2@kerralla.test", "PRIVATE", "CONFIRMED", "OPAQUE"}


# -- lines and text -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [request, cancel, "publish"])
def test_text_round_trips_exactly_in_every_parser(make: Any) -> None:
    meeting = invitation(summary=TRICKY_TEXT, description=TRICKY_TEXT, place=TRICKY_TEXT)
    data = publish([meeting], DTSTAMP, "x") if make == "publish" else make(meeting, DTSTAMP)
    for parser, [event] in parsed_events(data).items():
        assert event["summary"] == TRICKY_TEXT, parser
        assert event["description"] == TRICKY_TEXT, parser
        assert event["location"] == TRICKY_TEXT, parser


@pytest.mark.parametrize("make", [request, cancel, "publish"])
def test_lines_end_in_crlf_and_fold_at_75_octets_between_characters(make: Any) -> None:
    meeting = invitation(
        summary=TRICKY_TEXT,
        description=TRICKY_TEXT,
        organizer_name="Ö" * 80,
        attendee=Attendee(LISA.email, "Å" * 80),
    )
    data = publish([meeting], DTSTAMP, "ä" * 90) if make == "publish" else make(meeting, DTSTAMP)
    lines = physical_lines(data)
    assert max(len(line) for line in lines) == 75  # something was long enough to fold
    for line in lines:
        assert len(line) <= 75
        line.decode("utf-8")  # no character split between two lines


INJECTIONS = {
    "place": "Huone 1\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nATTENDEE:mailto:evil@x.test"
    "\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nEND:VALARM",
    "summary": "Tapaaminen\nBEGIN:VALARM\nTRIGGER:-PT5M\nEND:VALARM\rATTENDEE;ROLE=CHAIR:mailto:"
    "evil@x.test\u2028END:VEVENT\x0bBEGIN:VEVENT\x85UID:x\x0cEND:VCALENDAR\x00\x1b[31m",
    "description": "rivi\r\n;ROLE=CHAIR:mailto:evil@x.test\r\n END:VEVENT",
    "organizer_name": 'Maija"\r\nATTENDEE;ROLE=CHAIR:mailto:evil@x.test\r\nX:"',
}


def test_injected_calendar_syntax_stays_text() -> None:
    attendee = Attendee(LISA.email, 'Liisa";ROLE=CHAIR:mailto:evil@x.test\nBEGIN:VALARM')
    meeting = invitation(attendee=attendee, **INJECTIONS)
    for data in (request(meeting, DTSTAMP), cancel(meeting, DTSTAMP)):
        physical_lines(data)
        assert count(data, "BEGIN") == (6 if b"METHOD:REQUEST" in data else 5)
        assert count(data, "ATTENDEE") == 1
        assert count(data, "UID") == 1
        assert b"evil@x.test\r\n" not in data
        for parser, [event] in parsed_events(data).items():
            assert event["uid"] == "meeting-41f7c2@kerralla.test", parser
            assert "BEGIN:VEVENT" in event["location"]
            assert "\r" not in event["summary"]
        cal = icalendar.Calendar.from_ical(data)
        [event] = cal.events
        assert len(event.walk("VALARM")) == (1 if b"METHOD:REQUEST" in data else 0)
        assert event["ATTENDEE"] == "mailto:liisa.laine@koulu.test"
        assert event["ATTENDEE"].params["ROLE"] == "REQ-PARTICIPANT"
        assert event["ORGANIZER"] == "mailto:kerralla@kerralla.test"
        vevent = vobject.readOne(data.decode()).vevent
        assert len(vevent.attendee_list) == 1
        assert vevent.attendee.params["ROLE"] == ["REQ-PARTICIPANT"]
    # A line break of any kind is a newline in the text; other control characters are dropped.
    [event] = icalendar.Calendar.from_ical(request(meeting, DTSTAMP)).events
    assert event["LOCATION"] == INJECTIONS["place"].replace("\r\n", "\n")
    assert str(event["SUMMARY"]).split("\n")[-1] == "END:VCALENDAR[31m"
    assert event["ORGANIZER"].params["CN"] == "Maija' ATTENDEE;ROLE=CHAIR:mailto:evil@x.test X:'"


@pytest.mark.parametrize(
    "field", ["link", "online_url", "organizer_email", "uid"], ids=lambda f: f"crlf-in-{f}"
)
def test_line_breaks_in_addresses_and_links_are_refused(field: str) -> None:
    values = {
        "link": "https://kerralla.test/m/abc\r\nBEGIN:VALARM",
        "online_url": "https://meet.test/x\nATTENDEE:mailto:evil@x.test",
        "organizer_email": "kerralla@kerralla.test\r\nATTENDEE:mailto:evil@x.test",
        "uid": "abc\r\nBEGIN:VEVENT",
    }
    with pytest.raises(ValueError):
        invitation(**{field: values[field]})
    with pytest.raises(ValueError):
        Attendee("liisa@koulu.test\r\nATTENDEE:mailto:evil@x.test")


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"starts_at": datetime(2026, 6, 16, 14)},
        {"ends_at": datetime(2026, 6, 16, 15)},
        {"ends_at": SUMMER[0]},
        {"ends_at": SUMMER[0] - timedelta(minutes=1)},
        {"time_zone": "Europe/Kuopio"},
        {"sequence": -1},
        {"summary": " \n"},
        {"link": "javascript:alert(1)"},
        {"link": "https://kerralla.test/a b"},
        {"online_url": "ftp://files.test/x"},
        {"organizer_email": "Kerralla <kerralla@kerralla.test>"},
        {"alarm_before": timedelta(0)},
        {"status": "TENTATIVE"},
    ],
    ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()),
)
def test_bad_input_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        invitation(**changes)


def test_messages_refuse_what_clients_would_mishandle() -> None:
    with pytest.raises(ValueError, match="aware"):
        request(invitation(), datetime(2026, 5, 4, 9, 15))
    with pytest.raises(ValueError, match="attendee"):
        request(invitation(attendee=None), DTSTAMP)
    with pytest.raises(ValueError, match="attendee"):
        cancel(invitation(attendee=None), DTSTAMP)
    with pytest.raises(ValueError, match="different"):
        request(invitation(attendee=Attendee(ORGANIZER.upper(), "Me")), DTSTAMP)
    with pytest.raises(ValueError, match="cancel"):
        request(invitation(status="CANCELLED"), DTSTAMP)
    with pytest.raises(ValueError, match="role"):
        Attendee(LISA.email, "Liisa", "CHAIR")  # type: ignore[arg-type]


# -- a real CalDAV server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with radicale_server(tmp_path_factory.mktemp("radicale-invites")) as server:
        yield server


def stored(data: bytes) -> bytes:
    """The object as CalDAV stores it: the same calendar without METHOD (RFC 4791 4.1)."""
    cal = icalendar.Calendar.from_ical(data)
    del cal["METHOD"]
    return cal.to_ical()


CALENDAR_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start:%Y%m%dT%H%M%SZ}" end="{end:%Y%m%dT%H%M%SZ}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


async def found(
    http: aiohttp.ClientSession, collection: str, start: datetime, end: datetime
) -> list[str]:
    """The hrefs of events that Radicale (vobject inside) finds overlapping start..end."""
    body = CALENDAR_QUERY.format(start=start, end=end)
    headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
    async with http.request("REPORT", collection, data=body, headers=headers) as response:
        assert response.status == 207, await response.text()
        tree = ElementTree.fromstring(await response.read())
    return [href.text or "" for href in tree.iter("{DAV:}href")]


async def test_radicale_stores_updates_and_finds_the_invitation(
    radicale: RadicaleServer, tmp_path: Path
) -> None:
    credentials = f"{radicale.username}:{radicale.password}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
    collection = f"{radicale.url}{radicale.username}/kerralla-{tmp_path.name}/"
    path = collection + "meeting-41f7c2.ics"
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.request("MKCALENDAR", collection) as response:
            assert response.status == 201, await response.text()

        summer = stored(request(invitation(), DTSTAMP))
        headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
        async with http.put(path, data=summer, headers=headers) as response:
            assert response.status == 201, await response.text()

        # Radicale's vobject reads our VTIMEZONE: 14:00 Helsinki in June is 11:00Z, not 12:00Z.
        assert await found(http, collection, *SUMMER) == [
            f"/{radicale.username}/kerralla-{tmp_path.name}/meeting-41f7c2.ics"
        ]
        hour_off = (SUMMER[1], SUMMER[1] + timedelta(hours=1))
        assert await found(http, collection, *hour_off) == []
        before = (SUMMER[0] - timedelta(hours=1), SUMMER[0])
        assert await found(http, collection, *before) == []

        # Moved to winter: the same UID at the same path, a higher SEQUENCE.
        moved = invitation(sequence=1, starts_at=WINTER[0], ends_at=WINTER[1])
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        async with http.put(
            path, data=stored(request(moved, DTSTAMP)), headers=headers
        ) as response:
            assert response.status in (201, 204), await response.text()
        assert await found(http, collection, *SUMMER) == []
        assert len(await found(http, collection, *WINTER)) == 1
        assert await found(http, collection, WINTER[1], WINTER[1] + timedelta(hours=1)) == []

        async with http.get(path) as response:
            assert response.status == 200
            body = await response.read()
        [event] = icalendar.Calendar.from_ical(body).events
        assert (event["UID"], event["SEQUENCE"]) == ("meeting-41f7c2@kerralla.test", 1)
        assert set(map(tuple, instants(body).values())) == {(WINTER,)}

        # The same UID somewhere else in the collection is refused (409): the path is the UID's.
        other = collection + "another-name.ics"
        async with http.put(other, data=stored(request(moved, DTSTAMP)), headers=headers) as res:
            assert res.status == 409


def test_method_is_the_only_difference_of_the_stored_object() -> None:
    data = request(invitation(), DTSTAMP)
    assert re.sub(rb"METHOD:REQUEST\r\n", b"", data) == stored(data)
