"""Convening end to end through the fake Bot API: a family-centre worker convenes a team
meeting with four professionals and a guardian, who answer the times concurrently in Finnish
and Swedish; the convener sees one live tally, is offered the recommended time and fixes it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import func, select

from scheduling.catalog_data import ensure_defaults
from scheduling.models import (
    AvailabilityAnswer,
    Meeting,
    MeetingState,
    OutboxMessage,
    Participant,
    Sector,
    TelegramUser,
)

from . import factories as f
from .fake_bot_api import FakeBotAPI
from .harness import BotHarness, button, callback_answer, running_bot

CONVENER, TEACHER, CURATOR, NURSE, SOCIAL, GUARDIAN = 1001, 1002, 1003, 1004, 1005, 1006
LOCALES = {CONVENER: "fi", TEACHER: "fi", CURATOR: "sv", NURSE: "fi", SOCIAL: "fi", GUARDIAN: "sv"}


async def people(bot: BotHarness) -> None:
    async with bot.services.sessions() as session, session.begin():
        await ensure_defaults(session)
        org = await f.organisation(session, name="Kuusilahden perhekeskus")
        for uid, name, title, sector in [
            (CONVENER, "Kaisa Koivu", "perhekeskuksen työntekijä", Sector.FAMILY_CENTRE),
            (TEACHER, "Olli Opettaja", "luokanopettaja", Sector.SCHOOL),
            (CURATOR, "Sara Kurator", "skolkurator", Sector.SCHOOL),
            (NURSE, "Terhi Terveys", "terveydenhoitaja", Sector.HEALTH),
            (SOCIAL, "Sanna Sosiaali", "sosiaalityöntekijä", Sector.CHILD_PROTECTION),
        ]:
            await f.professional(
                session, org, telegram_id=uid, display_name=name, title=title, sector=sector
            )
            (await session.get(TelegramUser, uid)).locale = LOCALES[uid]
    for uid, locale in LOCALES.items():
        bot.api.user(uid, language_code=locale)


async def tap(api: FakeBotAPI, uid: int, message: dict[str, Any], label: str) -> str:
    return api.press(uid, message["message_id"], button(message, label))


async def reply(api: FakeBotAPI, uid: int, text: str, expect: str) -> dict[str, Any]:
    """Send text, then wait for the bot's new message containing `expect`."""
    latest = max((m["message_id"] for m in api.messages(uid)), default=0)
    api.send_text(uid, text)
    return await api.wait_for_message(uid, expect, after=latest)


async def choose(
    api: FakeBotAPI, uid: int, message: dict[str, Any], label: str, expect: str
) -> dict[str, Any]:
    await tap(api, uid, message, label)
    return await api.wait_for_message(uid, expect)


async def add_from_directory(
    api: FakeBotAPI,
    circle: dict[str, Any],
    sector: str | None,
    search: str | None,
    person: str,
    role: str,
) -> dict[str, Any]:
    ask = await choose(api, CONVENER, circle, "Lisää hakemistosta", "Valitse toimiala")
    if sector:
        found = await choose(api, CONVENER, ask, sector, "Kenet lisäät?")
    else:
        found = await reply(api, CONVENER, search or "", "Kenet lisäät?")
    roles = await choose(api, CONVENER, found, person, "Missä roolissa?")
    return await choose(api, CONVENER, roles, role, f"{person.split(',')[0]}")


async def test_a_team_meeting_is_convened_answered_and_fixed(bot: BotHarness) -> None:
    api = bot.api
    await people(bot)

    # -- the convener walks through /uusi -------------------------------------------------------
    kinds = await reply(api, CONVENER, "/uusi", "Millaisen tapaamisen kutsut koolle?")
    roles = await choose(api, CONVENER, kinds, "Perhekeskustiimi", "Mikä on oma roolisi")
    await choose(
        api, CONVENER, roles, "perhekeskuksen työntekijä", "Anna tapaamiselle asiatunniste"
    )
    # A personal identity code is refused, and explained.
    refused = await reply(api, CONVENER, "Lapsi 010203A123B", "näyttää henkilötunnukselta")
    assert "AK-12" in refused["text"]
    lengths = await reply(api, CONVENER, "AK-12", "Kuinka kauan tapaaminen kestää?")
    await choose(api, CONVENER, lengths, "1 t 30 min", "Missä tapaatte?")
    await reply(api, CONVENER, "ftp://example.fi/x", "https://-osoite")
    windows = await reply(api, CONVENER, "Perhekeskus, neuvotteluhuone 2", "Milloin tapaaminen")
    deadlines = await choose(api, CONVENER, windows, "Seuraavat 2 viikkoa", "Mihin mennessä")
    circle = await choose(api, CONVENER, deadlines, "3 päivän kuluessa", "osallistujat:")
    assert "Vielä puuttuu: huoltaja" in circle["text"]

    circle = await add_from_directory(
        api, circle, "koulu", None, "Olli Opettaja, luokanopettaja", "opettaja"
    )
    circle = await add_from_directory(
        api, circle, "koulu", None, "Sara Kurator, skolkurator", "koulukuraattori"
    )
    circle = await add_from_directory(
        api, circle, None, "terv", "Terhi Terveys, terveydenhoitaja", "terveydenhoitaja"
    )
    circle = await add_from_directory(
        api, circle, None, "sanna", "Sanna Sosiaali, sosiaalityöntekijä", "sosiaalityöntekijä"
    )
    # Times cannot be sent before the guardian's place is filled.
    early = await tap(api, CONVENER, circle, "Valmis: ehdota aikoja")
    assert "Lisää ensin pakolliset roolit: huoltaja." in (await callback_answer(api, early))["text"]

    links = await choose(api, CONVENER, circle, "Kutsulinkki rooliin", "Missä roolissa?")
    circle = await choose(
        api,
        CONVENER,
        links,
        "huoltaja *",
        "Tässä kertakäyttöinen linkki, jolla huoltaja pääsee mukaan tapaamiseen. Lähetä se "
        "hänelle itse (esimerkiksi tekstiviestillä).",
    )
    assert re.search(
        r"Ilman Telegramia, verkossa: http://127\.0\.0\.1:8080/f/[A-Za-z0-9_-]{32}\n",
        circle["text"],
    )
    token = re.search(
        r"https://t\.me/kerralla_test_bot\?start=([A-Za-z0-9_-]{20,64})\b", circle["text"]
    ).group(1)
    times = await choose(api, CONVENER, circle, "Valmis: ehdota aikoja", "Ehdotetut ajat.")
    proposed = [b["text"] for row in times["reply_markup"]["inline_keyboard"] for b in row]
    assert proposed[-1] == "Lähetä osallistujille"
    assert 3 <= len(proposed) - 1 <= 6 and all(p.startswith("✓ ") for p in proposed[:-1])
    # Leave one out, and add one of our own (after one that cannot be read).
    await tap(api, CONVENER, times, proposed[0])
    await api.wait_for(
        lambda: any(
            b["text"].startswith("✗ ")
            for row in api.messages(CONVENER)[-1]["reply_markup"]["inline_keyboard"]
            for b in row
        )
    )
    await reply(api, CONVENER, "huomenna klo 25", "En saanut selvää ajasta")
    times = await reply(api, CONVENER, "huomenna klo 15.15", "Ehdotetut ajat.")
    assert any(
        "15.15–16.45" in b["text"] for row in times["reply_markup"]["inline_keyboard"] for b in row
    )
    sent = await choose(api, CONVENER, times, "Lähetä osallistujille", "Lähetetty.")
    offered = len(proposed) - 1  # one left out, one added
    assert re.search(rf"vastaavat nyt {offered} aikaan", sent["text"])

    # -- the guardian opens the link; everyone answers at the same time ------------------------
    api.send_text(GUARDIAN, f"/start {token}")
    await api.wait_for_message(GUARDIAN, "Du är nu med i ett möte som Kaisa Koivu har kallat till.")
    invitations = {
        uid: await api.wait_for_message(
            uid, "bjuder in dig" if LOCALES[uid] == "sv" else "kutsuu sinut"
        )
        for uid in (TEACHER, CURATOR, NURSE, SOCIAL, GUARDIAN)
    }
    assert invitations[CURATOR]["text"].startswith(
        "Kaisa Koivu bjuder in dig till ett möte: Familjecenterteam – AK-12"
    )
    # The guardian sees neither the meeting type nor the case label.
    assert invitations[GUARDIAN]["text"].startswith("Kaisa Koivu bjuder in dig till ett möte: Möte")
    assert "AK-12" not in invitations[GUARDIAN]["text"]

    async def answer_all(uid: int, choice: str) -> None:
        message = invitations[uid]
        for row in message["reply_markup"]["inline_keyboard"]:
            for key in row:
                if key["text"].endswith(choice):
                    api.press(uid, message["message_id"], key["callback_data"])

        def marked() -> int:
            now = next(m for m in api.messages(uid) if m["message_id"] == message["message_id"])
            return sum(
                key["text"].startswith("● ")
                for row in now["reply_markup"]["inline_keyboard"]
                for key in row
            )

        await api.wait_for(lambda: marked() == offered)

    await asyncio.gather(
        answer_all(TEACHER, "Sopii"),
        answer_all(CURATOR, "Passar"),
        answer_all(NURSE, "Ehkä"),
        answer_all(SOCIAL, "Ei sovi"),
        answer_all(GUARDIAN, "Passar"),
    )

    offer = await api.wait_for_message(CONVENER, "Kaikki, joiden pitää vastata, ovat vastanneet")
    tally = await api.wait_for_message(CONVENER, "Vastaukset: Perhekeskustiimi – AK-12")

    def tally_text() -> str:
        return next(m for m in api.messages(CONVENER) if m["message_id"] == tally["message_id"])[
            "text"
        ]

    # The tally catches up with the last answer (edits may still be on their way).
    await api.wait_for(lambda: tally_text().count("sopii 4, ehkä 1, ei sovi 1") == offered)
    tally_now = {"text": tally_text()}
    assert "sopii 4, ehkä 1, ei sovi 1" in tally_now["text"]
    assert "Vastaamatta" not in tally_now["text"]
    # One tally message, edited in place, not a stream of new ones.
    assert sum("Vastaukset:" in (m.get("text") or "") for m in api.messages(CONVENER)) == 1

    fixed = await tap(api, CONVENER, offer, button_label(offer))
    assert (await callback_answer(api, fixed))["text"].startswith("Sovittu: ")
    for uid in (TEACHER, NURSE, SOCIAL):
        await api.wait_for_message(uid, "Aika on sovittu: Perhekeskustiimi – AK-12")
    await api.wait_for_message(CURATOR, "Tiden är bestämd: Familjecenterteam – AK-12")
    told = await api.wait_for_message(GUARDIAN, "Tiden är bestämd: Möte")
    assert "Plats: Perhekeskus, neuvotteluhuone 2" in told["text"]
    await api.wait_for(
        lambda: (
            "Aika on sovittu:"
            in next(m for m in api.messages(CONVENER) if m["message_id"] == tally["message_id"])[
                "text"
            ]
        )
    )

    # A second tap on the same (now stale) button changes nothing.
    again = api.press(
        CONVENER, offer["message_id"], button(offer, button_label(offer)), check=False
    )
    assert (await callback_answer(api, again))["text"] == "Tämän tapaamisen aika on jo päätetty."
    async with bot.services.sessions() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting.state == MeetingState.SCHEDULED
        seats = await session.scalar(select(func.count()).select_from(Participant))
        answers = await session.scalar(select(func.count()).select_from(AvailabilityAnswer))
        fixed_messages = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "meeting_fixed")
        )
    assert seats == 6
    assert answers == 6 * offered  # five people answered each time once; the convener's are yes
    assert fixed_messages == 6  # everyone in the circle, the convener too (for the calendar)


def button_label(message: dict[str, Any]) -> str:
    return message["reply_markup"]["inline_keyboard"][0][0]["text"]


async def test_the_convener_is_told_whose_calendar_could_not_be_read(database_url: str) -> None:
    from .calendar_servers import free_port

    closed = f"http://127.0.0.1:{free_port()}/calendar.ics"  # nothing listens there
    async with running_bot(
        database_url, allow_loopback_calendars=True, calendar_timeout_seconds=0.5
    ) as bot:
        api = bot.api
        await people(bot)
        async with bot.services.sessions() as session, session.begin():
            org = await f.organisation(session)
            await f.professional(
                session,
                org,
                telegram_id=1010,
                display_name="Erkki Erityinen",
                title="erityissosiaalityöntekijä",
                sector=Sector.CHILD_PROTECTION,
                calendar_feed_url=closed,
            )
        kinds = await reply(api, CONVENER, "/new", "Millaisen tapaamisen kutsut koolle?")
        roles = await choose(api, CONVENER, kinds, "Työparikonsultaatio", "Mikä on oma roolisi")
        await choose(api, CONVENER, roles, "sosiaalityöntekijä", "Anna tapaamiselle asiatunniste")
        lengths = await reply(api, CONVENER, "EK-3", "Kuinka kauan")
        await choose(api, CONVENER, lengths, "1 t", "Missä tapaatte?")
        windows = await reply(api, CONVENER, "https://teams.example.fi/l/meetup/abc", "Milloin")
        deadlines = await choose(api, CONVENER, windows, "Seuraavat 4 viikkoa", "Mihin mennessä")
        circle = await choose(api, CONVENER, deadlines, "Viikon kuluessa", "osallistujat:")
        circle = await add_from_directory(
            api,
            circle,
            None,
            "erkki",
            "Erkki Erityinen, erityissosiaalityöntekijä",
            "lastensuojelun erityissosiaalityöntekijä *",
        )
        times = await choose(api, CONVENER, circle, "Valmis: ehdota aikoja", "Ehdotetut ajat.")
        assert times["text"].startswith(
            "Henkilön Erkki Erityinen kalenteriin ei saatu yhteyttä, joten hänen varatut aikansa "
            "eivät ole tiedossa."
        )


async def test_bad_input_mid_conversation_gets_a_short_answer_and_changes_nothing(
    bot: BotHarness,
) -> None:
    api = bot.api
    await people(bot)
    kinds = await reply(api, CONVENER, "/uusi", "Millaisen tapaamisen kutsut koolle?")
    await reply(api, CONVENER, "Sisukas", "Valitse yllä olevista painikkeista")
    roles = await choose(api, CONVENER, kinds, "Sisukas", "Mikä on oma roolisi")
    await choose(api, CONVENER, roles, "Vain koollekutsujana", "Anna tapaamiselle asiatunniste")
    latest = max(m["message_id"] for m in api.messages(CONVENER))
    api.send_update(
        {
            "message": {
                "from": api.users[CONVENER],
                "chat": api.chats[CONVENER],
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    await api.wait_for_message(CONVENER, "Vastaa kirjoittamalla", after=latest)
    await reply(api, CONVENER, "x" * 4096, "Asiatunniste voi olla enintään 60 merkkiä")
    lengths = await reply(api, CONVENER, "AK-99", "Kuinka kauan")
    await reply(api, CONVENER, "0", "Tapaaminen voi kestää 1 minuutista 8 tuntiin.")
    await choose(api, CONVENER, lengths, "1 t", "Missä tapaatte?")
    windows = await reply(api, CONVENER, "Koulu", "Milloin tapaaminen")
    await reply(api, CONVENER, "1.1.2020–5.1.2020", "Päivien pitää olla tulevaisuudessa")
    deadlines = await choose(api, CONVENER, windows, "Seuraavat 2 viikkoa", "Mihin mennessä")
    await choose(api, CONVENER, deadlines, "3 päivän kuluessa", "osallistujat:")
    # Stopping deletes the draft: nothing half-made is left.
    await reply(api, CONVENER, "/peru", "Keskeytetty. Mitään ei tallennettu.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Meeting)) == 0
        assert await session.scalar(select(func.count()).select_from(Participant)) == 0


async def test_when_the_deadline_passes_the_convener_can_remind_or_fix(bot: BotHarness) -> None:
    from datetime import timedelta

    from scheduling.jobs import JobWorker
    from scheduling.models import utcnow

    from .test_managing import fix_anyway, sisukas

    api = bot.api
    meeting_id = await sisukas(bot)
    await api.wait_for_message(2002, "kutsuu sinut tapaamiseen")
    later = utcnow() + timedelta(days=3, minutes=1)
    bot.clock.set(later)  # the bot's one clock: workers, handlers, pages
    worker = JobWorker(
        bot.services.sessions,
        bot.services.settings,
        clock=bot.services.now,
        after_batch=bot.services.outbox_wake.set,
    )
    await worker.run_once()
    told = await api.wait_for_message(2001, "Svarstiden har gått ut")
    assert (
        "Har inte svarat ännu (2): Olli Opettaja (luokanopettaja), Riitta Rehtori (rehtori)"
        in (told["text"])
    )
    reminded = api.press(2001, told["message_id"], button(told, "Påminn dem som inte har svarat"))
    assert (await callback_answer(api, reminded))["text"] == "Påminde 2 personer."
    # The teacher, who must answer, has not: the convener is asked before the time is fixed.
    fixed = await fix_anyway(
        bot,
        2001,
        told,
        told["reply_markup"]["inline_keyboard"][1][0]["callback_data"],
        "Lärare: har inte svarat",
        "Bekräfta ändå",
    )
    assert (await callback_answer(api, fixed))["text"].startswith("Bestämt: ")
    async with bot.services.sessions() as session:
        assert (await session.get(Meeting, meeting_id)).state == MeetingState.SCHEDULED


async def test_a_swedish_professional_convenes_with_the_swedish_commands(bot: BotHarness) -> None:
    api = bot.api
    await people(bot)
    kinds = await reply(api, CURATOR, "/ny", "Vilket slags möte kallar du till?")
    assert "(Du kan avbryta när som helst med /avbryt.)" in kinds["text"]
    roles = await choose(api, CURATOR, kinds, "Familjecenterteam", "Vilken är din egen roll")
    await choose(api, CURATOR, roles, "skolkurator", "Ge mötet en ärendebeteckning")
    lengths = await reply(api, CURATOR, "SK-4", "Hur länge varar mötet?")
    length = lengths["reply_markup"]["inline_keyboard"][0][0]["text"]
    await choose(api, CURATOR, lengths, length, "Var träffas ni?")
    windows = await reply(api, CURATOR, "Skolans mötesrum", "När kan mötet hållas?")
    deadlines = await choose(api, CURATOR, windows, "De närmaste 2 veckorna", "ha svarat?")
    circle = await choose(api, CURATOR, deadlines, "Inom 3 dagar", "Deltagare i mötet SK-4:")
    links = await choose(api, CURATOR, circle, "Inbjudningslänk till en roll", "I vilken roll?")
    circle = await choose(
        api,
        CURATOR,
        links,
        "vårdnadshavare *",
        "Här är en engångslänk till den här platsen i mötet (vårdnadshavare). Skicka den själv",
    )
    await reply(api, CURATOR, "/avbryt", "Avbrutet. Inget sparades.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Meeting)) == 0
    meetings = await reply(api, CURATOR, "/moten", "Du har inga möten just nu.")
    assert "Kalla till ett möte med /ny." in meetings["text"]
