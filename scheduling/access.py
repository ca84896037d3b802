"""Who may do what: the one place that decides. The faces (chat, web) name what an action
needs; this module says whether the caller has it.

- Only approved professionals convene and use the professional tools.
- Only a meeting's participants see it; only its convener and co-conveners change it.
- A family member reaches only their own family's questionnaire, data and feedback.
- Administrators are the Telegram ids in ADMIN_TELEGRAM_IDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from .config import Settings
from .meetings import can_manage, seat_of
from .models import Meeting, Professional
from .people import Role, approved_professional, role_of


class Need(StrEnum):
    ANYONE = "anyone"
    PROFESSIONAL = "professional"  # an approved professional
    ADMINISTRATOR = "administrator"
    FAMILY = "family"  # any family member (their own conversation holds the meeting)
    MEMBER = "member"  # an approved professional or a family member: someone with meetings
    PARTICIPANT = "participant"  # seated in this meeting, professional or family
    MANAGER = "manager"  # this meeting's convener or a co-convener
    OWN_FAMILY = "own_family"  # a family member seated in this meeting


MEETING_NEEDS = {Need.PARTICIPANT, Need.MANAGER, Need.OWN_FAMILY}


@dataclass(frozen=True)
class Caller:
    telegram_user_id: int
    role: Role
    administrator: bool
    professional: Professional | None


async def caller(session: AsyncSession, telegram_user_id: int, settings: Settings) -> Caller:
    professional = await approved_professional(session, telegram_user_id)
    role = Role.PROFESSIONAL if professional else await role_of(session, telegram_user_id)
    return Caller(
        telegram_user_id, role, telegram_user_id in settings.admin_telegram_ids, professional
    )


def allows(need: Need, who: Caller, meeting: Meeting | None = None) -> bool:
    """Whether `who` may do what needs `need` (on `meeting`, for the meeting-scoped needs; a
    meeting that does not exist allows nothing)."""
    if need == Need.ANYONE:
        return True
    if need == Need.PROFESSIONAL:
        return who.professional is not None
    if need == Need.ADMINISTRATOR:
        return who.administrator
    if need == Need.FAMILY:
        return who.role == Role.FAMILY
    if need == Need.MEMBER:
        return who.professional is not None or who.role == Role.FAMILY
    if meeting is None:
        return False
    seat = seat_of(meeting, who.telegram_user_id)
    if need == Need.PARTICIPANT:
        return seat is not None
    if need == Need.MANAGER:
        return can_manage(meeting, who.professional)
    return seat is not None and seat.family_member is not None  # OWN_FAMILY
