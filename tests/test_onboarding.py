"""Becoming a professional: an administrator's one-time link, or asking in the chat and being
approved; revoking; and what each kind of person is told by /start and /apua."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from sqlalchemy import select

from scheduling.models import Professional, ProfessionalState

from . import factories as f
from .harness import BotHarness, button, callback_answer, running_bot
from .test_cli import kerralla

ADMIN = 900


async def cli(bot: BotHarness, *args: str) -> str:
    """Run `kerralla admin …` as an administrator would, against the bot's database and API."""
    settings = bot.services.settings
    result = await asyncio.to_thread(
        kerralla,
        "admin",
        *args,
        cwd=Path(tempfile.gettempdir()),
        DATABASE_URL=settings.database_url,
        TELEGRAM_API_URL=settings.telegram_api_url,
        TELEGRAM_BOT_TOKEN=settings.telegram_bot_token.get_secret_value(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_an_invitation_link_registers_a_professional_once(bot: BotHarness) -> None:
    api = bot.api
    async with bot.services.sessions() as session, session.begin():
        await f.organisation(session, slug="kuopio-koulu", name="Kuopion koulu")
    printed = await cli(
        bot,
        "invite-professional",
        "--org",
        "kuopio-koulu",
        "--sector",
        "school",
        "--title",
        "erityisopettaja",
        "--email",
        "ope@kuopio.test",
    )
    link = re.search(r"https://t\.me/kerralla_test_bot\?start=([A-Za-z0-9_-]+)", printed)
    assert link and len(link.group(1)) <= 64
    assert "Valid until" in printed

    api.user(301, first_name="Olli", language_code="fi")
    api.send_text(301, f"/start {link.group(1)}")
    welcome = await api.wait_for_message(301)
    assert welcome["text"].startswith(
        "Tervetuloa Kerrallaan, Olli! Olet nyt rekisteröitynyt ammattilaiseksi: "
        "Kuopion koulu, erityisopettaja."
    )
    # The link works once: someone else who gets hold of it is not let in.
    api.user(302, language_code="sv")
    api.send_text(302, f"/start {link.group(1)}")
    refused = await api.wait_for_message(302)
    assert (
        refused["text"]
        == "Länken är inte giltig eller har gått ut. Be den som skickade den om en ny."
    )

    listing = await cli(bot, "list-professionals")
    assert re.search(r"approved\s+kuopio-koulu\s+school\s+erityisopettaja\s+Olli", listing)

    api.send_text(301, "/apua")
    help_text = await api.wait_for_message(301, "Komennot:")
    assert "/uusi (/new)" in help_text["text"]

    async with bot.services.sessions() as session:
        olli = await session.scalar(
            select(Professional).where(Professional.telegram_user_id == 301)
        )
    revoked = await cli(bot, "revoke", str(olli.id))
    assert "can no longer convene" in revoked
    api.send_text(301, "/uusi")
    await api.wait_for_message(301, "Tapaamisia voivat kutsua koolle ja nähdä vain")


async def test_asking_for_access_in_the_chat_and_being_approved(database_url: str) -> None:
    async with running_bot(database_url, admin_telegram_ids=f"{ADMIN}") as bot:
        api = bot.api
        async with bot.services.sessions() as session, session.begin():
            await f.organisation(session, name="Pohjoisen perhekeskus")
            await f.organisation(session, name="Eteläinen koulu")
        api.user(ADMIN, first_name="Ylläpitäjä", language_code="fi")
        api.send_text(ADMIN, "/start")  # the administrator has written to the bot before
        await api.wait_for_message(ADMIN)

        api.user(401, first_name="Sanna", last_name="Sosiaali", language_code="sv")
        api.send_text(401, "/start")
        hello = await api.wait_for_message(401, "Hej!")
        api.press(401, hello["message_id"], button(hello, "Be om tillgång som yrkesperson"))
        organisations = await api.wait_for_message(401, "Vilken organisation arbetar du för?")
        api.press(401, organisations["message_id"], button(organisations, "Pohjoisen perhekeskus"))
        sectors = await api.wait_for_message(401, "Inom vilken sektor arbetar du?")
        api.press(401, sectors["message_id"], button(sectors, "barnskydd"))
        await api.wait_for_message(401, "Vad är din yrkestitel?")
        api.send_text(401, "socialarbetare")
        await api.wait_for_message(401, "Tack. Din begäran har skickats")

        request = await api.wait_for_message(ADMIN, "pyytää pääsyä ammattilaisena")
        assert request["text"] == (
            "Sanna Sosiaali pyytää pääsyä ammattilaisena: socialarbetare, Pohjoisen perhekeskus "
            "(lastensuojelu)."
        )
        # Someone else forging the administrator's button changes nothing.
        approve = button(request, "Hyväksy")
        api.user(402, language_code="fi")
        api.send_text(402, "/start")
        their_own = await api.wait_for_message(402)
        forged = api.press(402, their_own["message_id"], approve, check=False)
        assert (await callback_answer(api, forged))["text"] == "Tämä painike ei ole sinua varten."
        async with bot.services.sessions() as session:
            state = await session.scalar(
                select(Professional.state).where(Professional.telegram_user_id == 401)
            )
        assert state == ProfessionalState.PENDING

        api.press(ADMIN, request["message_id"], approve)
        await api.wait_for_message(ADMIN, "Hyväksytty: Sanna Sosiaali.")
        await api.wait_for_message(401, "Din tillgång har godkänts. Kalla till ett möte med /ny.")
        again = api.press(ADMIN, request["message_id"], approve, check=False)
        assert (await callback_answer(api, again))["text"] == "Tämä pyyntö on jo käsitelty."
