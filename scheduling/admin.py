"""What an administrator reads on the command line."""

from __future__ import annotations

from sqlalchemy import select

from .db import READ_ONLY, create_engine, session_factory
from .models import Job, JobState


async def job_lines(url: str, *, failed_only: bool = True) -> list[str]:
    """One line per job that failed for good (or, with failed_only=False, is not yet done)."""
    states = [JobState.FAILED] if failed_only else [JobState.FAILED, JobState.PENDING]
    engine = create_engine(url, execution_options=READ_ONLY)
    try:
        async with session_factory(engine)() as session:
            jobs = (
                await session.scalars(
                    select(Job).where(Job.state.in_(states)).order_by(Job.due_at.desc())
                )
            ).all()
    finally:
        await engine.dispose()
    if not jobs:
        return ["No failed jobs." if failed_only else "No jobs waiting or failed."]
    return [
        f"{job.id:>7}  {job.state.value:8} {job.kind:20} due {job.due_at:%Y-%m-%d %H:%M}Z  "
        f"tries {job.attempts}/{job.max_attempts}  meeting {job.meeting_id or '-'}  "
        f"{job.last_error or ''}".rstrip()
        for job in jobs
    ]
