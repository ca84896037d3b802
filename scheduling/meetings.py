"""A meeting's life: convened, its circle gathered, times answered, fixed, moved, cancelled.

Every change and the messages it causes are written in one transaction (outbox rows); the
caller commits. Only the convener and co-conveners change a meeting (`can_manage`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from . import outbox
from .calendar_files import email_of
from .config import Settings
from .errors import InvalidInput
from .i18n import N_
from .jobs import cancel_meeting_jobs
from .models import (
    AnswerState,
    Availability,
    AvailabilityAnswer,
    CandidateSource,
    CandidateTime,
    FamilyMember,
    FamilyRole,
    Meeting,
    MeetingSeries,
    MeetingState,
    MeetingType,
    OutboxMessage,
    OutboxState,
    Participant,
    ParticipantKind,
    Professional,
    ProfessionalState,
    TelegramUser,
    TokenPurpose,
)
from .recipients import reach
from .reminders import plan_meeting_jobs
from .tokens import find, issue

CONVENER_ROLE = "convener"
MAX_CANDIDATES = 8
# A personal identity code (henkilötunnus): ddmmyy, a century sign, three digits, a check mark.
PERSONAL_IDENTITY_CODE = re.compile(r"\d{6}\s?[-+ABCDEFUVWXY]\s?\d{3}[0-9A-Y]", re.IGNORECASE)


# -- checking what a convener types ------------------------------------------------------------


def check_case_label(text: str) -> str:
    label = " ".join(text.split())
    if PERSONAL_IDENTITY_CODE.search(label):
        raise InvalidInput(
            N_(
                "That looks like a personal identity code. Use a pseudonymous case label "
                "instead, for example initials and a number: AK-12."
            )
        )
    if not label or label.startswith("/"):
        raise InvalidInput(N_("Write a short case label, for example AK-12."))
    if len(label) > 60:
        raise InvalidInput(
            N_("A case label can be at most 60 characters, so that it stays short and says little.")
        )
    return label


def check_place(text: str) -> tuple[str | None, str | None]:
    """A place, or an online meeting link (https only): (place, online_url)."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInput(N_("Write the place, or paste the link of the online meeting."))
    if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE) or value.lower().startswith("www."):
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if parts.scheme.lower() != "https" or not parts.hostname or " " in value:
            raise InvalidInput(N_("An online meeting link must be a full https:// address."))
        if len(value) > 500:
            raise InvalidInput(N_("That link is too long."))
        return None, value
    if len(value) > 200:
        raise InvalidInput(N_("Write the place in at most 200 characters."))
    return value, None


def check_duration(minutes: int) -> int:
    if not 1 <= minutes <= 480:
        raise InvalidInput(N_("The meeting must last between 1 minute and 8 hours."))
    return minutes


# -- who may do what --------------------------------------------------------------------------


def can_manage(meeting: Meeting, professional: Professional | None) -> bool:
    """Only the convener and co-conveners fix, move and cancel."""
    if professional is None or professional.state != ProfessionalState.APPROVED:
        return False
    if meeting.convener_id == professional.id:
        return True
    return any(
        p.professional_id == professional.id and p.is_co_convener for p in meeting.participants
    )


def seat_of(meeting: Meeting, telegram_user_id: int) -> Participant | None:
    """The sender's seat in the circle; a revoked professional has none any more."""
    for participant in meeting.participants:
        if (
            participant.professional is not None
            and participant.professional.state != ProfessionalState.APPROVED
        ):
            continue
        person = participant.professional or participant.family_member
        if person is not None and person.telegram_user_id == telegram_user_id:
            return participant
    return None


async def load(session: AsyncSession, meeting_id: int, *, lock: bool = False) -> Meeting | None:
    query = (
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .options(
            selectinload(Meeting.meeting_type).selectinload(MeetingType.roles),
            selectinload(Meeting.participants).selectinload(Participant.professional),
            selectinload(Meeting.participants).selectinload(Participant.family_member),
            selectinload(Meeting.candidate_times),
            selectinload(Meeting.convener),
        )
    )
    if lock:
        query = query.with_for_update(of=Meeting)
    return await session.scalar(query)


# -- convening ----------------------------------------------------------------------------------


async def start(
    session: AsyncSession,
    convener: Professional,
    meeting_type: MeetingType,
    *,
    case_label: str,
    duration_minutes: int,
    place: str | None,
    online_url: str | None,
    window: tuple[date, date],
    answer_deadline: datetime,
    settings: Settings,
    now: datetime,
    convener_role: str = CONVENER_ROLE,
    previous: Meeting | None = None,
) -> Meeting:
    """A new meeting in DRAFT, with the convener seated in its circle in their own role."""
    host = urlsplit(settings.base_url).hostname or "kerralla.invalid"
    meeting = Meeting(
        meeting_type_id=meeting_type.id,
        organisation_id=convener.organisation_id,
        convener_id=convener.id,
        case_label=check_case_label(case_label),
        duration_minutes=check_duration(duration_minutes),
        time_zone=settings.timezone,
        place=place,
        online_url=online_url,
        window_start=window[0],
        window_end=window[1],
        answer_deadline=answer_deadline,
        ical_uid=f"{uuid.uuid4()}@{host}",
        series_id=previous.series_id if previous else None,
        previous_meeting_id=previous.id if previous else None,
        created_at=now,  # an abandoned draft is deleted a week from this
    )
    session.add(meeting)
    await session.flush()
    session.add(
        Participant(
            meeting_id=meeting.id,
            kind=ParticipantKind.PROFESSIONAL,
            professional_id=convener.id,
            role=convener_role,
            required=True,
        )
    )
    await session.flush()
    return meeting


async def seat_professional(
    session: AsyncSession,
    meeting: Meeting,
    professional: Professional,
    role: str,
    *,
    required: bool,
    co_convener: bool = False,
) -> Participant:
    if professional.state != ProfessionalState.APPROVED:
        raise InvalidInput(N_("Only approved professionals can be added from the directory."))
    if any(p.professional_id == professional.id for p in meeting.participants):
        raise InvalidInput(N_("{name} is already in the circle."), name=professional.display_name)
    seat = Participant(
        meeting_id=meeting.id,
        kind=ParticipantKind.PROFESSIONAL,
        professional=professional,
        family_member=None,
        role=role,
        required=required,
        is_co_convener=co_convener,
    )
    session.add(seat)
    await session.flush()
    meeting.participants.append(seat)
    return seat


@dataclass(frozen=True)
class OpenSeat:
    seat: Participant
    telegram_token: str  # one-time: whoever opens it in Telegram takes the seat
    web_token: str | None  # a family member's own page, for those without Telegram


async def open_seat(
    session: AsyncSession,
    meeting: Meeting,
    role: str,
    *,
    family_role: FamilyRole | None,
    required: bool,
    locale: str,
    now: datetime,
) -> OpenSeat:
    """A seat for someone not in Kerralla yet, with its invitation links' tokens."""
    member = None
    if family_role is not None:
        member = FamilyMember(role=family_role, locale=locale, created_at=now)
        session.add(member)
        await session.flush()
    seat = Participant(
        meeting_id=meeting.id,
        kind=ParticipantKind.FAMILY if member else ParticipantKind.PROFESSIONAL,
        family_member=member,
        professional=None,
        role=role,
        required=required,
    )
    session.add(seat)
    await session.flush()
    meeting.participants.append(seat)
    expires = max(now + timedelta(days=14), (meeting.answer_deadline or now) + timedelta(days=1))
    token = await issue(
        session,
        TokenPurpose.PARTICIPANT_INVITE,
        expires,
        locale=locale,
        participant_id=seat.id,
        meeting_id=meeting.id,
        family_member_id=member.id if member else None,
    )
    web_token = await family_page(session, meeting, seat, now) if member is not None else None
    return OpenSeat(seat, token, web_token)


async def family_page(
    session: AsyncSession, meeting: Meeting, seat: Participant, now: datetime
) -> str:
    """A new secret for a family member's own page (`/f/<token>`), e.g. for an email to them.

    The page stays open until a while after the meeting can have been held."""
    member = seat.family_member
    assert member is not None
    until = max(datetime.combine(meeting.window_end or now.date(), time(0), UTC), now)
    if meeting.ends_at is not None:
        until = max(until, meeting.ends_at)
    return await issue(
        session,
        TokenPurpose.FAMILY_FORM,
        until + timedelta(days=30),
        locale=member.locale,
        participant_id=seat.id,
        meeting_id=meeting.id,
        family_member_id=member.id,
    )


async def claim_seat(
    session: AsyncSession, token: str, user: TelegramUser, now: datetime
) -> Participant | None:
    """Whoever opens a seat's link takes it; None when the link is not valid (any way)."""
    row = await find(session, token, now, TokenPurpose.PARTICIPANT_INVITE)
    if row is None or row.participant_id is None:
        return None
    seat = await session.get(Participant, row.participant_id)
    if seat is None:
        return None
    if seat.kind == ParticipantKind.FAMILY:
        member = await session.get(FamilyMember, seat.family_member_id)
        assert member is not None
        member.telegram_user_id = user.id
        member.locale = user.locale
        # The circle sees the family member's role, not their Telegram name.
    else:
        professional = await session.scalar(
            select(Professional).where(
                Professional.telegram_user_id == user.id,
                Professional.state == ProfessionalState.APPROVED,
            )
        )
        if professional is None:
            return None  # a professional's seat needs a registered professional
        taken = await session.scalar(
            select(Participant.id).where(
                Participant.meeting_id == seat.meeting_id,
                Participant.professional_id == professional.id,
            )
        )
        if taken is not None:
            return None
        seat.professional_id = professional.id
    row.used_at = now
    await session.flush()
    return seat


def missing_roles(meeting: Meeting) -> list[str]:
    """The type's required roles that nobody in the circle fills yet."""
    filled = {p.role for p in meeting.participants}
    return [r.key for r in meeting.meeting_type.roles if r.required and r.key not in filled]


async def set_candidates(
    session: AsyncSession,
    meeting: Meeting,
    starts: Iterable[tuple[datetime, CandidateSource]],
    now: datetime,
    *,
    new_round: bool = False,
) -> list[CandidateTime]:
    """The times to answer: they replace this round's times, or begin a new round."""
    round_ = max((c.round for c in meeting.candidate_times), default=1) + int(new_round)
    unique = sorted({start: source for start, source in starts}.items())
    if not unique:
        raise InvalidInput(N_("Choose at least one time."))
    if len(unique) > MAX_CANDIDATES:
        raise InvalidInput(N_("Offer at most 8 times, so that answering stays quick."))
    if any(start <= now for start, _ in unique):
        raise InvalidInput(N_("That time has already passed."))
    for candidate in [c for c in meeting.candidate_times if c.round == round_]:
        await session.delete(candidate)
    await session.flush()
    duration = timedelta(minutes=meeting.duration_minutes)
    created = [
        CandidateTime(
            meeting_id=meeting.id,
            round=round_,
            starts_at=start,
            ends_at=start + duration,
            source=source,
        )
        for start, source in unique
    ]
    session.add_all(created)
    await session.flush()
    await session.refresh(meeting, ["candidate_times"])
    return created


def current_candidates(meeting: Meeting) -> list[CandidateTime]:
    latest = max((c.round for c in meeting.candidate_times), default=0)
    return sorted(
        (c for c in meeting.candidate_times if c.round == latest and not c.withdrawn),
        key=lambda c: c.starts_at,
    )


# -- telling people -----------------------------------------------------------------------------


async def tell_circle(
    session: AsyncSession,
    meeting: Meeting,
    kind: str,
    *,
    now: datetime,
    besides: int | None = None,
    key: str,
    **params: object,
) -> int:
    """The same news to everyone in the circle who uses Telegram, each in their language;
    how many were told (not counting those this `key` already told)."""
    told = 0
    for seat in meeting.participants:
        target = await reach(session, seat)
        if target is None or target[0] == besides:
            continue
        queued = await outbox.tell(
            session,
            target[0],
            kind,
            target[1],
            now=now,
            meeting_id=meeting.id,
            dedupe_key=f"{key}:{seat.id}",
            participant_id=seat.id,
            **params,
        )
        told += queued is not None
    return told


async def send_calendars(
    session: AsyncSession, meeting: Meeting, settings: Settings, key: str, now: datetime
) -> None:
    """Everyone's own calendar file: in the chat, and by email to those who gave an address
    (when Kerralla has a mail server). Rendered when sent, from the meeting as it is then."""
    for seat in meeting.participants:
        target = await reach(session, seat)
        if target is not None:
            await outbox.tell(
                session,
                target[0],
                "calendar_file",
                target[1],
                now=now,
                meeting_id=meeting.id,
                dedupe_key=f"{key}:ics:{seat.id}",
                participant_id=seat.id,
            )
        address = email_of(seat)
        if address and settings.smtp_host:
            locale = (
                target[1]
                if target
                else (seat.family_member.locale if seat.family_member else settings.default_locale)
            )
            await outbox.email(
                session,
                address,
                "calendar_email",
                locale,
                now=now,
                meeting_id=meeting.id,
                dedupe_key=f"{key}:mail:{seat.id}",
                participant_id=seat.id,
            )


async def refresh_tally(session: AsyncSession, meeting: Meeting, now: datetime) -> None:
    """Edit the convener's one tally message, unless an edit is already waiting to be sent."""
    original = await session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"tally:{meeting.id}")
    )
    if original is None:
        return
    waiting = await session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.edits_id == original.id, OutboxMessage.state == OutboxState.PENDING
        )
    )
    if waiting is None:
        session.add(
            OutboxMessage(
                channel=original.channel,
                kind="tally",
                locale=original.locale,
                telegram_chat_id=original.telegram_chat_id,
                edits_id=original.id,
                meeting_id=meeting.id,
                payload={},
                created_at=now,
                next_attempt_at=now,
            )
        )
        await session.flush()


async def send_for_answers(
    session: AsyncSession, meeting: Meeting, settings: Settings, now: datetime
) -> None:
    """DRAFT → COLLECTING: everyone gets the times to answer; the convener gets the tally."""
    if meeting.state != MeetingState.DRAFT:
        raise InvalidInput(N_("This meeting has already been sent to the circle."))
    if missing := missing_roles(meeting):
        raise InvalidInput(N_("Add the required roles first: {roles}."), roles=", ".join(missing))
    if not current_candidates(meeting):
        raise InvalidInput(N_("Choose at least one time."))
    meeting.state = MeetingState.COLLECTING
    candidates = current_candidates(meeting)
    # The convener chose these times: their own answer is yes to each.
    for seat in meeting.participants:
        if seat.professional_id == meeting.convener_id:
            for candidate in candidates:
                session.add(
                    AvailabilityAnswer(
                        candidate_time_id=candidate.id,
                        participant_id=seat.id,
                        answer=Availability.YES,
                        answered_at=now,
                    )
                )
            seat.answer_state, seat.responded_at = AnswerState.ANSWERED, now
        else:
            seat.answer_state = AnswerState.PENDING
            seat.invited_at = now
    await session.flush()
    convener = await session.get(TelegramUser, meeting.convener.telegram_user_id)
    await tell_circle(
        session,
        meeting,
        "times_invitation",
        now=now,
        besides=convener.id if convener else None,
        key=f"times:{candidates[0].round}",
    )
    if convener is not None:
        await outbox.tell(
            session,
            convener.id,
            "tally",
            convener.locale,
            now=now,
            meeting_id=meeting.id,
            dedupe_key=f"tally:{meeting.id}",
        )
    await plan_meeting_jobs(session, meeting, settings, now)


# -- answering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    changed: bool
    everyone_required_answered: bool


async def answer(
    session: AsyncSession,
    meeting: Meeting,
    seat: Participant,
    candidate_id: int,
    availability: Availability,
    now: datetime,
) -> Answered:
    """A seat's yes / maybe / no to one of the current times; changeable until fixed."""
    if meeting.state != MeetingState.COLLECTING:
        raise InvalidInput(N_("The time of this meeting has already been decided."))
    candidates = {c.id: c for c in current_candidates(meeting)}
    if candidate_id not in candidates or seat.meeting_id != meeting.id:
        raise InvalidInput(N_("This button is no longer valid."))
    existing = await session.get(AvailabilityAnswer, (candidate_id, seat.id))
    changed = existing is None or existing.answer != availability
    if existing is None:
        session.add(
            AvailabilityAnswer(
                candidate_time_id=candidate_id,
                participant_id=seat.id,
                answer=availability,
                answered_at=now,
            )
        )
    else:
        existing.answer = availability
    await session.flush()
    answered = set(
        await session.scalars(
            select(AvailabilityAnswer.candidate_time_id).where(
                AvailabilityAnswer.participant_id == seat.id,
                AvailabilityAnswer.candidate_time_id.in_(candidates),
            )
        )
    )
    everyone_required_answered_now = False
    if answered >= set(candidates) and seat.answer_state != AnswerState.ANSWERED:
        was_done = required_done(meeting)
        seat.answer_state = AnswerState.ANSWERED
        seat.responded_at = now
        everyone_required_answered_now = not was_done and required_done(meeting)
    if changed:
        await refresh_tally(session, meeting, now)
    if everyone_required_answered_now:
        convener = await session.get(TelegramUser, meeting.convener.telegram_user_id)
        if convener is not None:
            await outbox.tell(
                session,
                convener.id,
                "required_answered",
                convener.locale,
                now=now,
                meeting_id=meeting.id,
                dedupe_key=f"required:{meeting.id}:{min(candidates)}",
            )
    return Answered(changed, everyone_required_answered_now)


def required_done(meeting: Meeting) -> bool:
    return all(p.answer_state == AnswerState.ANSWERED for p in meeting.participants if p.required)


@dataclass(frozen=True)
class Tally:
    candidate: CandidateTime
    yes: int
    maybe: int
    no: int
    required_yes: bool


async def tally(session: AsyncSession, meeting: Meeting) -> list[Tally]:
    candidates = current_candidates(meeting)
    answers = (
        await session.scalars(
            select(AvailabilityAnswer).where(
                AvailabilityAnswer.candidate_time_id.in_([c.id for c in candidates])
            )
        )
    ).all()
    required = {p.id for p in meeting.participants if p.required}
    rows = []
    for candidate in candidates:
        mine = [a for a in answers if a.candidate_time_id == candidate.id]
        yes = {a.participant_id for a in mine if a.answer == Availability.YES}
        rows.append(
            Tally(
                candidate,
                len(yes),
                sum(a.answer == Availability.MAYBE for a in mine),
                sum(a.answer == Availability.NO for a in mine),
                required <= yes,
            )
        )
    return rows


@dataclass(frozen=True)
class Gap:
    """A required seat that has not said it can come at a time: `answer` None (not answered
    yet) or Availability.NO."""

    seat: Participant
    answer: Availability | None


async def quorum_gaps(session: AsyncSession, meeting: Meeting, starts_at: datetime) -> list[Gap]:
    """The required seats that have not answered the current time at `starts_at`, or answered
    no, in circle order; at a time nobody was asked about, every required seat."""
    candidate = next((c for c in current_candidates(meeting) if c.starts_at == starts_at), None)
    answers: dict[int, Availability] = {}
    if candidate is not None:
        rows = await session.execute(
            select(AvailabilityAnswer.participant_id, AvailabilityAnswer.answer).where(
                AvailabilityAnswer.candidate_time_id == candidate.id
            )
        )
        answers = dict(rows.all())
    gaps = []
    for seat in sorted(meeting.participants, key=lambda p: p.id):
        answer = answers.get(seat.id)
        if seat.required and answer in {None, Availability.NO}:
            gaps.append(Gap(seat, answer))
    return gaps


class QuorumNotMet(InvalidInput):
    """Fixing a time that someone required has not said yes or maybe to: the convener must
    confirm it, knowing who (`gaps`)."""

    def __init__(self, gaps: list[Gap]) -> None:
        super().__init__(N_("Not everyone who must be there can come at this time."))
        self.gaps = gaps


def recommend(rows: Sequence[Tally]) -> Tally | None:
    """All required say yes; then the most yes; then the fewest no; then the earliest."""
    if not rows:
        return None
    return min(rows, key=lambda r: (not r.required_yes, -r.yes, r.no, r.candidate.starts_at))


# -- deciding -----------------------------------------------------------------------------------


def _allowed(meeting: Meeting, by: Professional, state: MeetingState, refusal: str) -> None:
    if not can_manage(meeting, by):
        raise InvalidInput(N_("Only the convener can do this."))
    if meeting.state != state:
        raise InvalidInput(refusal)


async def _set_time(
    session: AsyncSession,
    meeting: Meeting,
    starts_at: datetime,
    settings: Settings,
    now: datetime,
    news: str,
) -> None:
    """The meeting at `starts_at`: everyone told (`news` kind), its jobs armed for the time."""
    if starts_at <= now:
        raise InvalidInput(N_("That time has already passed."))
    meeting.starts_at = starts_at
    meeting.ends_at = starts_at + timedelta(minutes=meeting.duration_minutes)
    await session.flush()
    await tell_circle(session, meeting, news, now=now, key=f"{news}:{meeting.ical_sequence}")
    await send_calendars(session, meeting, settings, f"{news}:{meeting.ical_sequence}", now)
    await plan_meeting_jobs(session, meeting, settings, now)


async def fix(
    session: AsyncSession,
    meeting: Meeting,
    starts_at: datetime,
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
    confirmed: bool = False,
) -> None:
    """COLLECTING → SCHEDULED at `starts_at`; everyone is told. A time that someone required
    has not answered or cannot make is fixed only once the convener has `confirmed` it, having
    been told who (QuorumNotMet)."""
    _allowed(
        meeting,
        by,
        MeetingState.COLLECTING,
        N_("The time of this meeting has already been decided."),
    )
    if not confirmed and (gaps := await quorum_gaps(session, meeting, starts_at)):
        raise QuorumNotMet(gaps)
    if meeting.fixed_at is not None:
        meeting.ical_sequence += 1  # fixed again after a new round: calendars must update
    meeting.state = MeetingState.SCHEDULED
    meeting.fixed_at = now
    await _set_time(session, meeting, starts_at, settings, now, "meeting_fixed")
    await refresh_tally(session, meeting, now)


async def move(
    session: AsyncSession,
    meeting: Meeting,
    starts_at: datetime,
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
) -> None:
    """A scheduled meeting to a new time, straight away; everyone is told."""
    _allowed(
        meeting, by, MeetingState.SCHEDULED, N_("Only a meeting with a fixed time can be moved.")
    )
    meeting.ical_sequence += 1
    await _set_time(session, meeting, starts_at, settings, now, "meeting_moved")


async def cancel(
    session: AsyncSession,
    meeting: Meeting,
    reason: str,
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
) -> None:
    if not can_manage(meeting, by):
        raise InvalidInput(N_("Only the convener can do this."))
    if meeting.state in {MeetingState.CANCELLED, MeetingState.HELD}:
        raise InvalidInput(N_("This meeting can no longer be cancelled."))
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise InvalidInput(N_("Write the reason for cancelling in at most 500 characters."))
    meeting.state = MeetingState.CANCELLED
    meeting.cancel_reason = reason
    meeting.cancelled_at = now
    meeting.ical_sequence += 1
    await session.flush()
    await cancel_meeting_jobs(session, meeting.id, now)
    await tell_circle(
        session,
        meeting,
        "meeting_cancelled",
        now=now,
        besides=by.telegram_user_id,
        key=f"cancelled:{meeting.id}",
    )
    if meeting.starts_at is not None:  # a time was fixed: calendars hold it and must drop it
        await send_calendars(session, meeting, settings, f"cancelled:{meeting.ical_sequence}", now)


async def remind_pending(session: AsyncSession, meeting: Meeting, now: datetime) -> int:
    """The times again, to everyone who has not answered yet (once a day at most)."""
    if meeting.state != MeetingState.COLLECTING:
        raise InvalidInput(N_("The time of this meeting has already been decided."))
    reminded = 0
    for seat in meeting.participants:
        if seat.answer_state != AnswerState.PENDING:
            continue
        target = await reach(session, seat)
        if target is None:
            continue
        queued = await outbox.tell(
            session,
            target[0],
            "times_invitation",
            target[1],
            now=now,
            meeting_id=meeting.id,
            dedupe_key=f"times-again:{seat.id}:{now.date().isoformat()}",
            participant_id=seat.id,
        )
        reminded += queued is not None
    return reminded


async def name_co_convener(
    session: AsyncSession, meeting: Meeting, seat_id: int, now: datetime, *, by: Professional
) -> Participant:
    if meeting.convener_id != by.id:
        raise InvalidInput(N_("Only the convener can do this."))
    seat = next((p for p in meeting.participants if p.id == seat_id), None)
    if seat is None or seat.professional is None or seat.professional_id == by.id:
        raise InvalidInput(N_("This button is no longer valid."))
    seat.is_co_convener = True
    target = await reach(session, seat)
    if target is not None:
        await outbox.tell(
            session,
            target[0],
            "co_convener_named",
            target[1],
            now=now,
            meeting_id=meeting.id,
            dedupe_key=f"co:{seat.id}",
            participant_id=seat.id,
        )
    return seat


async def ask_again(
    session: AsyncSession,
    meeting: Meeting,
    starts: Iterable[datetime],
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
) -> None:
    """Move a fixed meeting through a new round of answers: new times, everyone asked again."""
    _allowed(
        meeting, by, MeetingState.SCHEDULED, N_("Only a meeting with a fixed time can be moved.")
    )
    starts = sorted(starts)
    await set_candidates(
        session, meeting, [(s, CandidateSource.ADDED) for s in starts], now, new_round=True
    )
    # Two days to answer, but not later than an hour before the first new time.
    meeting.answer_deadline = max(min(now + timedelta(days=2), starts[0] - timedelta(hours=1)), now)
    meeting.state = MeetingState.DRAFT  # send_for_answers takes it from here
    await cancel_meeting_jobs(session, meeting.id, now)
    await send_for_answers(session, meeting, settings, now)


async def next_in_series(
    session: AsyncSession,
    previous: Meeting,
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
) -> Meeting:
    """The next meeting of a series: the same type, label, place and circle, in DRAFT."""
    if previous.convener_id != by.id and not can_manage(previous, by):
        raise InvalidInput(N_("Only the convener can do this."))
    if previous.state not in {MeetingState.HELD, MeetingState.SCHEDULED}:
        raise InvalidInput(N_("The next meeting can be convened once this one has a time."))
    kind = previous.meeting_type
    today = now.astimezone(ZoneInfo(previous.time_zone)).date()
    base = previous.starts_at.astimezone(ZoneInfo(previous.time_zone)).date()
    if kind.is_series:
        first = max(
            base + timedelta(days=kind.series_interval_days_min or 60), today + timedelta(days=1)
        )
        last = max(base + timedelta(days=kind.series_interval_days_max or 90), first)
    else:
        first, last = today + timedelta(days=1), today + timedelta(days=14)
    deadline = datetime.combine(
        max(first - timedelta(days=7), today + timedelta(days=1)),
        time(16, 0),
        ZoneInfo(previous.time_zone),
    )
    if previous.series_id is None:
        series = MeetingSeries(meeting_type_id=previous.meeting_type_id)
        session.add(series)
        await session.flush()
        previous.series_id = series.id
    convener_seat = next(
        p for p in previous.participants if p.professional_id == previous.convener_id
    )
    meeting = await start(
        session,
        previous.convener,
        kind,
        case_label=previous.case_label or "…",
        duration_minutes=previous.duration_minutes,
        place=previous.place,
        online_url=previous.online_url,
        window=(first, last),
        answer_deadline=deadline,
        settings=settings,
        now=now,
        convener_role=convener_seat.role,
        previous=previous,
    )
    for seat in previous.participants:
        if seat.professional_id == previous.convener_id:
            continue
        session.add(
            Participant(
                meeting_id=meeting.id,
                kind=seat.kind,
                professional_id=seat.professional_id,
                family_member_id=seat.family_member_id,
                role=seat.role,
                required=seat.required,
                is_co_convener=seat.is_co_convener,
            )
        )
    await session.flush()
    return await load(session, meeting.id)


async def meetings_of(
    session: AsyncSession, telegram_user_id: int, now: datetime, *, recent_days: int = 30
) -> list[Meeting]:
    """A person's upcoming meetings and those of the last weeks, as convener or in the circle."""
    mine = (
        select(Participant.meeting_id)
        .outerjoin(Professional, Participant.professional_id == Professional.id)
        .outerjoin(FamilyMember, Participant.family_member_id == FamilyMember.id)
        .where(
            (Professional.telegram_user_id == telegram_user_id)
            | (FamilyMember.telegram_user_id == telegram_user_id)
        )
    )
    since = now - timedelta(days=recent_days)
    rows = await session.scalars(
        select(Meeting)
        .where(
            Meeting.id.in_(mine),
            Meeting.state != MeetingState.DRAFT,
            Meeting.anonymised_at.is_(None),
            (Meeting.starts_at.is_(None)) | (Meeting.starts_at >= since),
        )
        .options(selectinload(Meeting.meeting_type))
        .order_by(Meeting.starts_at.is_(None).desc(), Meeting.starts_at, Meeting.id)
        .limit(20)
    )
    return list(rows.all())


@dataclass(frozen=True)
class FamilyView:
    meeting: Meeting
    seat: Participant
    locale: str


async def family_view(session: AsyncSession, token: str, now: datetime) -> FamilyView | None:
    """What a family member's own page shows; None for any link that is not valid."""
    row = await find(session, token, now, TokenPurpose.FAMILY_FORM)
    if row is None or row.meeting_id is None or row.participant_id is None:
        return None
    meeting = await load(session, row.meeting_id)
    seat = (
        next((p for p in meeting.participants if p.id == row.participant_id), None)
        if meeting
        else None
    )
    if meeting is None or seat is None or seat.family_member is None:
        return None
    return FamilyView(meeting, seat, seat.family_member.locale or row.locale or "fi")
