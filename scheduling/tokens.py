"""Secret links: 192 random bits from `secrets`, stored only as SHA-256, one purpose each,
expiring and revocable. A token is 32 characters of A-Za-z0-9_-, so it fits a Telegram
deep link (`?start=`, at most 64) and a URL path alike."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AccessToken, TokenPurpose

TOKEN_BYTES = 24


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue(
    session: AsyncSession,
    purpose: TokenPurpose,
    expires_at: datetime,
    *,
    locale: str | None = None,
    professional_id: int | None = None,
    participant_id: int | None = None,
    family_member_id: int | None = None,
    meeting_id: int | None = None,
) -> str:
    """A new secret for one purpose; only its hash is stored, so it is shown once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccessToken(
            token_hash=token_hash(token),
            purpose=purpose,
            expires_at=expires_at,
            locale=locale,
            professional_id=professional_id,
            participant_id=participant_id,
            family_member_id=family_member_id,
            meeting_id=meeting_id,
        )
    )
    await session.flush()
    return token


async def find(
    session: AsyncSession, token: str, now: datetime, purpose: TokenPurpose | None = None
) -> AccessToken | None:
    """The live token row for a secret (not expired, revoked or used), else None.

    Unknown, expired, revoked, used and wrong-purpose tokens look the same to the caller, and
    cost the same: one indexed lookup by the secret's hash (so the time taken does not depend
    on how much of a guess matches a real secret), with every condition in the same query, so
    that no row comes back for any of them.
    """
    if not 0 < len(token) <= 64:
        token = ""  # never issued: goes the same way as any other unknown secret
    conditions = [
        AccessToken.token_hash == token_hash(token),
        AccessToken.revoked_at.is_(None),
        AccessToken.used_at.is_(None),
        AccessToken.expires_at > now,
    ]
    if purpose is not None:
        conditions.append(AccessToken.purpose == purpose)
    return await session.scalar(select(AccessToken).where(*conditions))


async def revoke_for_professional(
    session: AsyncSession, professional_id: int, now: datetime
) -> None:
    await session.execute(
        update(AccessToken)
        .where(AccessToken.professional_id == professional_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
