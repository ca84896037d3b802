"""What the health check reads besides the backlogs: the workers' heartbeats."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class WorkerHeartbeat(Base):
    """A worker's sign of life: each worker of each process writes its row every few seconds,
    so that any process's health check sees the workers of all of them."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (sa.UniqueConstraint("worker", "process"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What it does ("delivery", "email", "jobs") and which process it is (host:pid:random).
    worker: Mapped[str] = mapped_column(sa.String(32))
    process: Mapped[str] = mapped_column(sa.String(120))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
