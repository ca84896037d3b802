"""Two real `kerralla run` processes behind one address, sharing one PostgreSQL database.

The fake Bot API posts updates to a round-robin reverse proxy, so a convener's consecutive
steps land on different processes; each reply arrives once, each timed job runs once, each
outbox message is sent once, and stopping one process leaves the other answering.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from scheduling.db import create_engine, session_factory
from scheduling.models import (
    ConversationState,
    Job,
    JobState,
    Meeting,
    MeetingState,
    OutboxMessage,
    OutboxState,
    Sector,
    utcnow,
)
from scheduling.reminders import REMINDER

from . import factories as f
from .fake_bot_api import FakeBotAPI
from .harness import DATA_KEY, TOKEN, callback_answer
from .round_robin_proxy import RoundRobinProxy
from .test_convening import choose, reply, tap
from .test_run import KERRALLA, environment, free_port, wait_until_healthy
from .test_webhook import SECRET

CONVENER, SPECIAL = 2001, 2002


async def start(port: int, api: FakeBotAPI, proxy: RoundRobinProxy, database_url: str, cwd: Path):
    return await asyncio.create_subprocess_exec(
        KERRALLA,
        "run",
        cwd=cwd,
        env=environment(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.url,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            PUBLIC_BASE_URL=proxy.url,
            DATA_KEY=DATA_KEY,
            DATABASE_URL=database_url,
            WEB_PORT=str(port),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def seed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            org = await f.organisation(session, name="Itäisen lastensuojelu")
            for uid, name, title in [
                (CONVENER, "Sanna Sosiaali", "sosiaalityöntekijä"),
                (SPECIAL, "Erkki Erityinen", "erityissosiaalityöntekijä"),
            ]:
                await f.professional(
                    session,
                    org,
                    telegram_id=uid,
                    display_name=name,
                    title=title,
                    sector=Sector.CHILD_PROTECTION,
                )
    finally:
        await engine.dispose()


async def test_two_processes_behind_one_address_handle_each_update_job_and_message_once(
    db_kind: str, empty_database_url: str, tmp_path: Path
) -> None:
    if db_kind != "postgresql":
        pytest.skip(
            "several `kerralla run` processes share one database only on PostgreSQL (SQLite is "
            "for one process); run with --db=postgresql"
        )
    ports = [free_port(), free_port()]
    async with FakeBotAPI(token=TOKEN, local=True) as api, RoundRobinProxy(ports) as proxy:
        # Both start at once on an empty database: one migrates, the other waits for it.
        for port in ports:
            (tmp_path / str(port)).mkdir()
        processes = [
            await start(port, api, proxy, empty_database_url, tmp_path / str(port))
            for port in ports
        ]
        outputs: list[str] = []
        try:
            for port, process in zip(ports, processes, strict=True):
                await wait_until_healthy(port, process)
            await api.wait_for(
                lambda: api.webhook_url == f"{proxy.url}/telegram/webhook", timeout=20
            )
            await seed(empty_database_url)
            for uid in (CONVENER, SPECIAL):
                api.user(uid, language_code="fi")

            # -- a convener's steps, alternating between the processes -----------------------
            kinds = await reply(api, CONVENER, "/uusi", "Millaisen tapaamisen kutsut koolle?")
            roles = await choose(api, CONVENER, kinds, "Työparikonsultaatio", "Mikä on oma roolisi")
            await choose(api, CONVENER, roles, "sosiaalityöntekijä", "Anna tapaamiselle")
            lengths = await reply(api, CONVENER, "TP-7", "Kuinka kauan tapaaminen kestää?")
            await choose(api, CONVENER, lengths, "1 t", "Missä tapaatte?")
            windows = await reply(api, CONVENER, "Virasto, huone 3", "Milloin tapaaminen")
            deadlines = await choose(
                api, CONVENER, windows, "Seuraavat 2 viikkoa", "Mihin mennessä"
            )
            circle = await choose(api, CONVENER, deadlines, "3 päivän kuluessa", "osallistujat:")
            ask = await choose(api, CONVENER, circle, "Lisää hakemistosta", "Valitse toimiala")
            found = await choose(api, CONVENER, ask, "lastensuojelu", "Kenet lisäät?")
            roles = await choose(
                api,
                CONVENER,
                found,
                "Erkki Erityinen, erityissosiaalityöntekijä",
                "Missä roolissa?",
            )
            circle = await choose(
                api,
                CONVENER,
                roles,
                "lastensuojelun erityissosiaalityöntekijä *",
                "Erkki Erityinen",
            )
            times = await choose(api, CONVENER, circle, "Valmis: ehdota aikoja", "Ehdotetut ajat.")
            await choose(api, CONVENER, times, "Lähetä osallistujille", "Lähetetty.")

            await api.wait_for(lambda: len(proxy.webhook_ports()) >= 14)  # the last 200 too
            convener_updates = [port for _, port in proxy.webhook_ports()]  # nobody else yet
            assert len(convener_updates) == 14
            # Consecutive steps of one conversation went to different processes.
            assert all(a != b for a, b in itertools.pairwise(convener_updates))

            # -- the invited professional answers; the convener fixes the time ---------------
            invitation = await api.wait_for_message(SPECIAL, "kutsuu sinut", timeout=20)
            offered = 0
            for row in invitation["reply_markup"]["inline_keyboard"]:
                for key in row:
                    if key["text"].endswith("Sopii"):
                        api.press(SPECIAL, invitation["message_id"], key["callback_data"])
                        offered += 1
            offer = await api.wait_for_message(
                CONVENER, "Kaikki, joiden pitää vastata, ovat vastanneet", timeout=20
            )
            label = offer["reply_markup"]["inline_keyboard"][0][0]["text"]
            fixed = await tap(api, CONVENER, offer, label)
            assert (await callback_answer(api, fixed))["text"].startswith("Sovittu: ")
            await api.wait_for_message(SPECIAL, "Aika on sovittu", timeout=20)

            # -- timed jobs: the two reminders and six more, all due now ---------------------
            engine = create_engine(empty_database_url)
            sessions = session_factory(engine)
            try:
                async with sessions() as session, session.begin():
                    meeting = await session.scalar(select(Meeting))
                    assert meeting.state == MeetingState.SCHEDULED
                    for hours in range(2, 8):
                        session.add(
                            Job(
                                kind=REMINDER,
                                due_at=utcnow() + timedelta(seconds=5),
                                payload={"hours": hours},
                                meeting_id=meeting.id,
                                dedupe_key=f"test-reminder-{hours}",
                            )
                        )
                    await session.execute(
                        update(Job)
                        .where(Job.kind == REMINDER, Job.meeting_id == meeting.id)
                        .values(due_at=utcnow() + timedelta(seconds=5))
                    )

                async def reminders_done() -> list[Job] | None:
                    async with sessions() as session:
                        jobs = list(await session.scalars(select(Job).where(Job.kind == REMINDER)))
                    return jobs if all(j.state == JobState.DONE for j in jobs) else None

                for _ in range(300):
                    if jobs := await reminders_done():
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the reminders did not run within 30 s")
                assert len(jobs) == 8 and all(job.attempts == 1 for job in jobs)

                def reminded(uid: int) -> int:
                    return sum(
                        (c.get("text") or "").startswith("Muistutus")
                        for c in api.calls_to("sendMessage")
                        if c.get("chat_id") == uid
                    )

                await api.wait_for(
                    lambda: reminded(CONVENER) >= 8 and reminded(SPECIAL) >= 8, timeout=60
                )
                await asyncio.sleep(1.5)  # a second sender, had there been one, would show now

                # -- one process stops; the other goes on answering -----------------------------
                processes[0].send_signal(signal.SIGTERM)
                outputs.append((await asyncio.wait_for(processes[0].communicate(), 60))[0].decode())
                assert processes[0].returncode == 0, outputs[0]
                await reply(api, CONVENER, "/apua", "Kerralla")

                async def settled() -> list[ConversationState] | None:
                    # The reply goes out before its process writes the state back.
                    async with sessions() as session:
                        rows = list(await session.scalars(select(ConversationState)))
                    return rows if rows and all(r.holder is None for r in rows) else None

                for _ in range(100):
                    if states := await settled():
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("a conversation was still held 10 s after its reply")
                async with sessions() as session:
                    outbox = list(await session.scalars(select(OutboxMessage)))
            finally:
                await engine.dispose()
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    outputs.append((await asyncio.wait_for(process.communicate(), 60))[0].decode())
    assert all(process.returncode == 0 for process in processes), outputs

    assert reminded(CONVENER) == 8 and reminded(SPECIAL) == 8
    # Each update went through once, answered 200 the first time.
    delivered = [d.update_id for d in api.webhook_deliveries]
    assert len(delivered) == len(set(delivered)) and all(d.ok for d in api.webhook_deliveries)
    # Each outbox message was claimed once and sent once.
    assert outbox and all(m.state == OutboxState.SENT and m.attempts == 1 for m in outbox)
    for uid in (CONVENER, SPECIAL):
        sent = [c.get("text") for c in api.calls_to("sendMessage") if c.get("chat_id") == uid]
        repeated = {text for text, n in Counter(sent).items() if n > 1}
        assert repeated <= {t for t in sent if t and t.startswith("Muistutus")}, repeated
    # The state is sealed (no case label in the clear).
    assert all(b"TP-7" not in (s.state_encrypted or b"") for s in states)
    assert {port for _, port in proxy.webhook_ports()} == set(ports)
    assert all(SECRET not in output for output in outputs)
