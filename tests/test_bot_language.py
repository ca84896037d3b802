"""Each person's own language in the chat: first contact, /kieli, commands per language."""

from __future__ import annotations

from sqlalchemy import select

from scheduling.models import TelegramUser

from .harness import BotHarness, button, callback_answer

FI_GREETING = "Hei! Kerralla kokoaa lapsen ja perheen ympärillä olevat ihmiset"
SV_GREETING = "Hej! Kerralla samlar alla kring ett barn och en familj"
EN_GREETING = "Hello! Kerralla brings together everyone around a child and family"


async def test_first_contact_takes_the_telegram_language(bot: BotHarness) -> None:
    api = bot.api
    for user_id, code in [(11, "fi"), (12, "sv-FI"), (13, "en"), (14, "de"), (15, None)]:
        api.user(user_id, language_code=code)
        api.send_text(user_id, "/start")
    assert (await api.wait_for_message(11))["text"].startswith(FI_GREETING)
    assert (await api.wait_for_message(12))["text"].startswith(SV_GREETING)
    assert (await api.wait_for_message(13))["text"].startswith(EN_GREETING)
    # Anything else gets Finnish.
    assert (await api.wait_for_message(14))["text"].startswith(FI_GREETING)
    assert (await api.wait_for_message(15))["text"].startswith(FI_GREETING)
    sv = (await api.wait_for_message(12))["text"]
    assert "Byt språk: /sprak. Anvisningar: /hjalp" in sv
    fi = (await api.wait_for_message(11))["text"]
    assert "Kielen vaihto: /kieli. Ohjeet: /apua" in fi


async def test_kieli_changes_the_language_and_it_is_remembered(bot: BotHarness) -> None:
    api = bot.api
    api.user(21, language_code="fi")
    api.send_text(21, "/kieli")
    question = await api.wait_for_message(21, "Millä kielellä Kerralla asioi kanssasi?")
    buttons = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["suomi", "svenska", "English"]
    api.press(21, question["message_id"], button(question, "svenska"))
    await api.wait_for_message(21, "Kerralla kommunicerar nu med dig på svenska.")
    # The question was edited into the answer, not followed by a new message.
    assert len(api.messages(21)) == 1

    api.send_text(21, "/apua")
    help_text = await api.wait_for_message(21, "Kommandon:")
    assert "/sprak (/language) – Byt språk" in help_text["text"]
    async with bot.services.sessions() as session:
        stored = await session.scalar(select(TelegramUser.locale).where(TelegramUser.id == 21))
    assert stored == "sv"

    # The English alias does the same; a Telegram app in Finnish does not undo the choice.
    api.send_text(21, "/language")
    again = await api.wait_for_message(21, "På vilket språk ska Kerralla kommunicera med dig?")
    api.press(
        21, again["message_id"], again["reply_markup"]["inline_keyboard"][2][0]["callback_data"]
    )
    await api.wait_for_message(21, "Kerralla now speaks English with you.")


async def test_a_forged_language_button_changes_nothing(bot: BotHarness) -> None:
    api = bot.api
    api.user(31, language_code="fi")
    api.send_text(31, "/kieli")
    question = await api.wait_for_message(31, "Millä kielellä")
    callback_id = api.press(31, question["message_id"], "lang:de", check=False)
    answer = await callback_answer(api, callback_id)
    assert answer["text"] == "Tämä painike ei ole sinua varten."
    async with bot.services.sessions() as session:
        locale = await session.scalar(select(TelegramUser.locale).where(TelegramUser.id == 31))
    assert locale == "fi"


async def test_concurrent_users_each_get_their_own_language(bot: BotHarness) -> None:
    api = bot.api
    people = {100 + n: ("fi", "sv", "en")[n % 3] for n in range(30)}
    for user_id, code in people.items():
        api.user(user_id, language_code=code)
    for _ in range(3):
        for user_id in people:
            api.send_text(user_id, "/apua")
    expected = {"fi": "Komennot:", "sv": "Kommandon:", "en": "Commands:"}

    def all_answered() -> bool:
        return all(len(api.messages(user_id)) == 3 for user_id in people)

    await api.wait_for(all_answered, timeout=30)
    for user_id, code in people.items():
        for message in api.messages(user_id):
            assert expected[code] in message["text"], (user_id, code, message["text"][:80])


async def test_commands_are_registered_for_each_language(bot: BotHarness) -> None:
    commands = bot.api.commands
    fi = {c["command"]: c["description"] for c in commands[("default", "fi")]}
    sv = {c["command"]: c["description"] for c in commands[("default", "sv")]}
    en = {c["command"]: c["description"] for c in commands[("default", "en")]}
    default = {c["command"]: c["description"] for c in commands[("default", "")]}
    assert list(fi) == ["uusi", "tapaamiset", "kalenteri", "omat_tiedot", "kieli", "apua", "peru"]
    assert fi["uusi"] == "Kutsu koolle uusi tapaaminen"
    # Swedish readers are offered Swedish names (Telegram allows only a-z, 0-9 and _).
    assert list(sv) == ["ny", "moten", "kalender", "mina_uppgifter", "sprak", "hjalp", "avbryt"]
    assert sv["ny"] == "Kalla till ett nytt möte"
    assert list(en) == ["new", "meetings", "calendar", "mydata", "language", "help", "cancel"]
    assert en["meetings"] == "Your meetings"
    assert fi["omat_tiedot"] == "Mitä Kerrallassa on sinusta"
    assert default == fi


async def test_aliases_and_what_is_not_understood(bot: BotHarness) -> None:
    api = bot.api
    api.user(41, language_code="sv")
    api.send_text(41, "/peru")
    await api.wait_for_message(41, "Det finns inget pågående att avbryta.")
    api.send_text(41, "/cancel")
    await api.wait_for(lambda: len(api.messages(41)) == 2)
    api.send_text(41, "/uusi")
    await api.wait_for_message(41, "Endast yrkespersoner som godkänts i Kerralla")
    api.send_text(41, "/meetings")
    await api.wait_for(
        lambda: sum("Endast yrkespersoner" in m["text"] for m in api.messages(41)) == 2
    )
    api.send_text(41, "x" * 4096)
    await api.wait_for_message(41, "Jag förstod inte. Kommandot /hjalp visar vad du kan göra.")
    api.send_update(
        {
            "message": {
                "from": api.users[41],
                "chat": api.chats[41],
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "s1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    await api.wait_for(lambda: len(api.messages(41)) == 6)
    assert api.messages(41)[-1]["text"].startswith("Jag förstod inte.")
