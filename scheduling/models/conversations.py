"""Where each person is in the chat's step-by-step conversations, shared by every process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class ConversationState(Base):
    """One Telegram user's conversation state, and the lease of the process handling them.

    No foreign key to `telegram_users`: the row is taken before the update that may create
    that person is handled.
    """

    __tablename__ = "conversation_states"

    telegram_user_id: Mapped[int] = mapped_column(
        sa.BigInteger, primary_key=True, autoincrement=False
    )
    # Each conversation's step and what was chosen so far, as JSON sealed with DATA_KEY: it can
    # hold what the person typed. None: no conversation under way.
    state_encrypted: Mapped[bytes | None]
    # The last update ids handled for this person, so that one delivered again is skipped.
    recent_updates: Mapped[list[Any]] = mapped_column(default=list)
    # The process handling this person's update now (host:pid:random), and until when at most.
    holder: Mapped[str | None] = mapped_column(sa.String(120))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
