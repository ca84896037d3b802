"""/omat_tiedot (/mydata): a professional sees their profile, downloads everything Kerralla
holds about them, and deletes the profile; family members and strangers hear where their data
is, or that there is none."""

from __future__ import annotations

import json

from sqlalchemy import select

from scheduling.models import AuditEvent, Professional, ProfessionalState

from .harness import BotHarness, button
from .test_managing import CONVENER, STRANGER, sisukas


async def test_a_professional_sees_downloads_and_deletes_their_profile(bot: BotHarness) -> None:
    api = bot.api
    meeting_id = await sisukas(bot)
    api.send_text(CONVENER, "/mydata")
    profile = await api.wait_for_message(CONVENER, "Din profil i Kerralla:")
    assert "Namn: Stina Socialarbetare" in profile["text"]
    assert "Titel: socialarbetare" in profile["text"]
    assert "Kalender för upptagna tider: inte ansluten" in profile["text"]

    latest = profile["message_id"]
    api.press(CONVENER, profile["message_id"], button(profile, "Ladda ner mina uppgifter"))
    await api.wait_for_message(CONVENER, "Allt som Kerralla har om dig.", after=latest)
    data = json.loads(api.documents(CONVENER)[-1]["data"])
    assert data["profile"]["name"] == "Stina Socialarbetare"
    assert [m["id"] for m in data["meetings"]] == [meeting_id]
    assert data["meetings"][0]["convener"] is True
    assert "SS-7" not in json.dumps(data)

    api.press(CONVENER, profile["message_id"], button(profile, "Radera min profil"))
    ask = await api.wait_for_message(CONVENER, "Vill du radera din profil?", after=latest)
    api.press(CONVENER, ask["message_id"], button(ask, "Ja, radera min profil"))
    # Not "the last message": a notice of the meeting queued earlier may arrive after it.
    await api.wait_for_message(CONVENER, "Din profil har raderats.", after=latest)
    async with bot.services.sessions() as session:
        gone = await session.scalar(select(Professional).where(Professional.display_name == "–"))
        logged = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "professional.delete")
        )
    assert gone.state == ProfessionalState.REVOKED and gone.telegram_user_id is None
    assert gone.email is None and gone.title == "–" and logged is not None

    # And with that, nothing more: no convening, no profile.
    latest = max(m["message_id"] for m in api.messages(CONVENER))
    api.send_text(CONVENER, "/new")
    refused = await api.wait_for_message(CONVENER, "Endast yrkespersoner", after=latest)
    assert refused["text"].startswith("Endast yrkespersoner som godkänts i Kerralla")


async def test_others_hear_where_their_data_is(bot: BotHarness) -> None:
    api = bot.api
    api.user(STRANGER, language_code="fi")
    api.send_text(STRANGER, "/omat_tiedot")
    said = await api.wait_for_message(STRANGER)
    assert said["text"] == (
        "Kerralla ei säilytä sinusta muuta kuin tähän keskusteluun valitsemasi kielen."
    )
