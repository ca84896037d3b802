"""The running process: time from `kerralla run` to ready, and resident memory with 10,000
meetings in the database.

- Ready: from spawning `kerralla run` until `GET /healthz` answers 200 (database reached,
  Bot API answered, workers' first heartbeats written). The first start migrates an empty
  database and loads the shipped meeting types; a restart finds them done (median of three).
- Memory: VmRSS of `kerralla run` holding 10,000 fixed meetings (4 professionals and three
  candidate times each, 100 professionals), after each professional has listed their meetings
  with /tapaamiset.

`.venv/bin/python -m bench.process` prints the figures; `run()` gives them to bench/__main__.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import timedelta
from itertools import islice

from sqlalchemy import insert, select

from scheduling.db import create_engine
from scheduling.models import (
    CandidateSource,
    CandidateTime,
    Meeting,
    MeetingState,
    MeetingType,
    Organisation,
    Participant,
    ParticipantKind,
    Professional,
    ProfessionalState,
    Sector,
    TelegramUser,
    utcnow,
)
from tests.fake_bot_api import FakeBotAPI
from tests.harness import TOKEN

from .bot_process import RunningBot, databases

MEETINGS = 10_000
PROFESSIONALS = 100
SEATS = 4
FIRST_USER = 7_000_000
RESTARTS = 3


def chunks(rows: list[dict[str, object]], size: int = 5_000) -> list[list[dict[str, object]]]:
    it = iter(rows)
    return list(iter(lambda: list(islice(it, size)), []))


async def populate(url: str) -> None:
    """10,000 fixed meetings of 100 professionals, straight into the database."""
    engine = create_engine(url)
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    async with engine.begin() as connection:
        type_id = await connection.scalar(select(MeetingType.id).limit(1))
        org_id = (
            await connection.execute(
                insert(Organisation).values(slug="bench", name="Bench").returning(Organisation.id)
            )
        ).scalar_one()
        users = list(range(FIRST_USER, FIRST_USER + PROFESSIONALS))
        await connection.execute(insert(TelegramUser), [{"id": u, "locale": "fi"} for u in users])
        await connection.execute(
            insert(Professional),
            [
                {
                    "telegram_user_id": u,
                    "organisation_id": org_id,
                    "display_name": f"Worker {u}",
                    "sector": Sector.SCHOOL,
                    "title": "opettaja",
                    "state": ProfessionalState.APPROVED,
                }
                for u in users
            ],
        )
        professionals = list((await connection.scalars(select(Professional.id))).all())
        meetings = []
        for n in range(MEETINGS):
            starts = now + timedelta(days=1 + n % 300, hours=n % 8)
            meetings.append(
                {
                    "meeting_type_id": type_id,
                    "organisation_id": org_id,
                    "convener_id": professionals[n % PROFESSIONALS],
                    "case_label": f"Case {n}",
                    "state": MeetingState.SCHEDULED,
                    "duration_minutes": 90,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=90),
                    "ical_uid": f"bench-{n}@kerralla",
                }
            )
        for chunk in chunks(meetings):
            await connection.execute(insert(Meeting), chunk)
        rows = (await connection.execute(select(Meeting.id, Meeting.starts_at))).all()
        seats, times = [], []
        for n, (meeting_id, starts) in enumerate(rows):
            for k in range(SEATS):
                seats.append(
                    {
                        "meeting_id": meeting_id,
                        "kind": ParticipantKind.PROFESSIONAL,
                        "professional_id": professionals[(n + k * 7) % PROFESSIONALS],
                        "role": "teacher",
                    }
                )
            for k in range(3):
                at = starts + timedelta(days=k)
                times.append(
                    {
                        "meeting_id": meeting_id,
                        "starts_at": at,
                        "source": CandidateSource.PROPOSED,
                        "ends_at": at + timedelta(minutes=90),
                    }
                )
        for chunk in chunks(seats):
            await connection.execute(insert(Participant), chunk)
        for chunk in chunks(times):
            await connection.execute(insert(CandidateTime), chunk)
    await engine.dispose()


async def startup(url: str) -> tuple[float, float]:
    """(seconds to ready on an empty database, median seconds to ready on a restart)."""
    async with FakeBotAPI(token=TOKEN) as api:
        async with RunningBot(api, url) as bot:
            first = await bot.ready()
        restarts = []
        for _ in range(RESTARTS):
            async with RunningBot(api, url) as bot:
                restarts.append(await bot.ready())
    return first, statistics.median(restarts)


async def memory(url: str) -> tuple[float, float]:
    """(MiB resident when ready, MiB after every professional listed their meetings)."""
    await populate(url)
    async with FakeBotAPI(token=TOKEN) as api, RunningBot(api, url) as bot:
        await bot.ready()
        await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=30)
        await asyncio.sleep(2)  # let the start settle
        ready = bot.rss_mib()
        users = range(FIRST_USER, FIRST_USER + PROFESSIONALS)
        for user in users:
            api.user(user)
            api.send_text(user, "/tapaamiset")
        await api.wait_for(lambda: all(api.messages(user) for user in users), timeout=120)
        await asyncio.sleep(1)
        return ready, bot.rss_mib()


def run() -> dict[str, dict[str, float | str]]:
    results: dict[str, dict[str, float | str]] = {}
    with databases("process") as each:
        for kind, url in each:
            first, restart = asyncio.run(startup(url))
            results[f"ready_first_start_{kind}"] = {"value": round(first, 2), "unit": "s"}
            results[f"ready_restart_{kind}"] = {"value": round(restart, 2), "unit": "s"}
            ready, used = asyncio.run(memory(url))
            results[f"rss_10k_meetings_{kind}_idle"] = {"value": round(ready, 1), "unit": "MiB"}
            results[f"rss_10k_meetings_{kind}_used"] = {"value": round(used, 1), "unit": "MiB"}
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:40} {figure['value']:>10} {figure['unit']}")
