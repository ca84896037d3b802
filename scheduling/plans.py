"""The joint plan (yhteinen suunnitelma) agreed in the meeting: items of what, who and by when,
sealed at rest, shared with the circle and the family in each reader's language, and exported
as plain text for the county's client record system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .config import Settings
from .crypto import seal, unseal
from .errors import InvalidInput
from .i18n import N_, Nn_, Translator
from .meetings import tell_circle
from .models import (
    AccessChannel,
    ActorKind,
    AuditEvent,
    Meeting,
    MeetingState,
    PlanItem,
    Professional,
)

MAX_WHAT = 500
MAX_WHO = 200
MAX_ITEMS = 30


@dataclass(frozen=True)
class PlanLine:
    position: int
    what: str
    who: str | None
    due_on: date | None


def is_open(meeting: Meeting, now: datetime) -> bool:
    """A plan is recorded once the meeting has begun, and never for a cancelled one."""
    started = meeting.starts_at is not None and meeting.starts_at <= now
    return meeting.state == MeetingState.HELD or (
        meeting.state == MeetingState.SCHEDULED and started
    )


def check_open(meeting: Meeting, now: datetime) -> None:
    if not is_open(meeting, now):
        raise InvalidInput(N_("The joint plan can be recorded once the meeting has been held."))


def clean(value: str, limit: int, *, required: bool) -> str | None:
    """One line of text, its spaces tidied; refused when too long (or empty, if required)."""
    clean = " ".join(value.split())
    if not clean:
        if required:
            raise InvalidInput(N_("Write what will be done."))
        return None
    if len(clean) > limit:
        raise InvalidInput(
            Nn_("Write at most {n} character.", "Write at most {n} characters."), n=limit
        )
    return clean


async def lines(session: AsyncSession, meeting_id: int, settings: Settings) -> list[PlanLine]:
    items = await session.scalars(
        select(PlanItem).where(PlanItem.meeting_id == meeting_id).order_by(PlanItem.position)
    )
    return [
        PlanLine(
            item.position,
            unseal(settings, item.what_encrypted),
            unseal(settings, item.who_encrypted) if item.who_encrypted else None,
            item.due_on,
        )
        for item in items
    ]


async def shared_lines(
    session: AsyncSession, meeting_id: int, settings: Settings
) -> list[PlanLine]:
    """The plan as the family may see it: only once the convener has sent it."""
    sent = await session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.meeting_id == meeting_id, AuditEvent.action == "plan.share")
        .limit(1)
    )
    return await lines(session, meeting_id, settings) if sent is not None else []


async def add(
    session: AsyncSession,
    meeting: Meeting,
    what: str,
    who: str | None,
    due_on: date | None,
    settings: Settings,
    now: datetime,
    *,
    by: Professional,
) -> PlanItem:
    check_open(meeting, now)
    what_text = clean(what, MAX_WHAT, required=True)
    who_text = clean(who or "", MAX_WHO, required=False)
    if due_on is not None and meeting.starts_at is not None and due_on < meeting.starts_at.date():
        raise InvalidInput(N_("The date is already past. Choose a later one."))
    count = await session.scalar(
        select(func.count()).select_from(PlanItem).where(PlanItem.meeting_id == meeting.id)
    )
    if (count or 0) >= MAX_ITEMS:
        raise InvalidInput(
            Nn_("A plan can have at most {n} item.", "A plan can have at most {n} items."),
            n=MAX_ITEMS,
        )
    last = await session.scalar(
        select(func.max(PlanItem.position)).where(PlanItem.meeting_id == meeting.id)
    )
    assert what_text is not None
    item = PlanItem(
        meeting_id=meeting.id,
        position=(last or 0) + 1,
        what_encrypted=seal(settings, what_text),
        who_encrypted=seal(settings, who_text) if who_text else None,
        due_on=due_on,
        created_by_id=by.id,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    _audit(session, meeting, by, "plan.write", now)
    await session.flush()
    return item


async def remove_last(
    session: AsyncSession, meeting: Meeting, now: datetime, *, by: Professional
) -> bool:
    check_open(meeting, now)
    item = await session.scalar(
        select(PlanItem)
        .where(PlanItem.meeting_id == meeting.id)
        .order_by(PlanItem.position.desc())
        .limit(1)
    )
    if item is None:
        return False
    await session.delete(item)
    _audit(session, meeting, by, "plan.write", now)
    await session.flush()
    return True


async def share(
    session: AsyncSession, meeting: Meeting, settings: Settings, now: datetime, *, by: Professional
) -> int:
    """Send the plan as it is now to everyone in the circle and the family who can be reached
    in Telegram (the family also sees it on their own page). Returns how many were told."""
    check_open(meeting, now)
    stamp = await session.scalar(
        select(func.max(PlanItem.updated_at)).where(PlanItem.meeting_id == meeting.id)
    )
    if stamp is None:
        raise InvalidInput(N_("The plan has no items yet."))
    meeting.state = MeetingState.HELD
    told = await tell_circle(
        session, meeting, "plan_shared", now=now, key=f"plan:{stamp.isoformat()}"
    )
    _audit(session, meeting, by, "plan.share", now)
    await session.flush()
    return told


def plain_text(t: Translator, title: str, when: str, plan: list[PlanLine]) -> str:
    """The plan as plain text to copy into a client record system."""
    rows = [t.gettext("Joint plan"), title, when, ""]
    for line in plan:
        rows.append(f"{line.position}. {line.what}")
        if line.who:
            rows.append("   " + t.gettext("Who: {who}", who=line.who))
        if line.due_on:
            rows.append("   " + t.gettext("By: {date}", date=t.date(line.due_on)))
    return "\n".join(rows)


def _audit(
    session: AsyncSession, meeting: Meeting, by: Professional, action: str, now: datetime
) -> None:
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_kind=ActorKind.PROFESSIONAL,
            actor_id=by.id,
            action=action,
            object_type="plan",
            object_id=meeting.id,
            meeting_id=meeting.id,
            channel=AccessChannel.TELEGRAM,
        )
    )
