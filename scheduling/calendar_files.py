"""Each participant's own calendar file for a meeting, in their language, with the minimum.

An invitation leaves Kerralla: its title is neutral ("Tapaaminen"), it holds the time, the place
or link and a link back — no child's name, no case label, no meeting type, no agenda — and each
recipient's copy lists only that recipient and the organiser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .config import Settings
from .i18n import Translator
from .invites import Attendee, Invitation, cancel, publish, request
from .models import Meeting, MeetingState, Participant


@dataclass(frozen=True)
class CalendarFile:
    method: str  # REQUEST, CANCEL or PUBLISH
    content: bytes
    filename: str = "kerralla.ics"


def email_of(seat: Participant) -> str | None:
    person = seat.professional or seat.family_member
    return person.email if person is not None else None


def name_of(seat: Participant) -> str | None:
    if seat.professional is not None:
        return seat.professional.display_name
    return seat.family_member.label if seat.family_member is not None else None


def invitation(
    meeting: Meeting,
    seat: Participant | None,
    t: Translator,
    settings: Settings,
    link: str | None = None,
) -> Invitation:
    """The meeting as one recipient's calendar sees it (no attendee for a feed). `link` is
    the recipient's own page (a family member's `/f/…`); without one, Kerralla's front page."""
    assert meeting.starts_at is not None and meeting.ends_at is not None
    link = link or settings.base_url
    address = email_of(seat) if seat is not None else None
    attendee = None
    if address:
        role = "REQ-PARTICIPANT" if seat.required else "OPT-PARTICIPANT"
        attendee = Attendee(address, name_of(seat), role)
    return Invitation(
        uid=meeting.ical_uid,
        sequence=meeting.ical_sequence,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        time_zone=meeting.time_zone,
        summary=settings.invitation_title or t.gettext("Meeting"),
        description=t.gettext(
            "The time and any changes are kept up to date in Kerralla: {link}", link=link
        ),
        organizer_email=settings.smtp_from,
        organizer_name=meeting.convener.display_name if meeting.convener else None,
        link=link,
        place=meeting.place,
        online_url=meeting.online_url,
        attendee=attendee,
        status="CANCELLED" if meeting.state == MeetingState.CANCELLED else "CONFIRMED",
    )


def for_participant(
    meeting: Meeting,
    seat: Participant,
    t: Translator,
    settings: Settings,
    now: datetime,
    link: str | None = None,
) -> CalendarFile | None:
    """REQUEST (or CANCEL) for someone with an email address, naming them as the attendee;
    otherwise a PUBLISH their phone adds to its calendar — updated, and marked cancelled, by the
    same UID with a higher SEQUENCE. `link`: the recipient's own page, if they have one."""
    if meeting.starts_at is None:
        return None
    event = invitation(meeting, seat, t, settings, link)
    if event.attendee is None:
        return CalendarFile("PUBLISH", publish([event], now, t.gettext("Kerralla meetings")))
    if meeting.state == MeetingState.CANCELLED:
        return CalendarFile("CANCEL", cancel(event, now))
    return CalendarFile("REQUEST", request(event, now))


def feed(meetings: Iterable[Meeting], t: Translator, settings: Settings, now: datetime) -> bytes:
    """A person's personal feed: their meetings, cancelled ones marked so."""
    events = [invitation(m, None, t, settings) for m in meetings if m.starts_at is not None]
    return publish(events, now, t.gettext("Kerralla meetings"))
