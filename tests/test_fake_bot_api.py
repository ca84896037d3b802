"""Drive the fake Bot API with a real PTB Bot / Application over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from .fake_bot_api import FakeBotAPI

TOKEN = "123456:TEST-TOKEN"
UID = 4242


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN, bot_username="kerralla_test_bot") as fake:
        fake.user(UID, first_name="Aino")
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot") as b:
        yield b


def told(text: str) -> re.Pattern[str]:
    """PTB strips "Bad Request: " and lower-cases the rest of Telegram's description."""
    return re.compile(re.escape(text), re.IGNORECASE)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"b{i}", callback_data=d)] for i, d in enumerate(data)]
    )


async def test_get_me(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "kerralla_test_bot" and me.id == 123456
    assert me.can_join_groups is True
    assert api.calls[0][0] == "getMe"


async def test_wrong_token_and_unknown_method(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/bot1:WRONG/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.get(f"{api.url}/bot{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
        async with session.get(f"{api.url}/bot{TOKEN}/GETME") as resp:
            assert (await resp.json())["result"]["username"] == "kerralla_test_bot"
        payload = {
            "chat_id": UID,
            "text": "json body",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "y"}]]},
        }
        async with session.post(f"{api.url}/bot{TOKEN}/sendMessage", json=payload) as resp:
            assert (await resp.json())["result"]["reply_markup"] == payload["reply_markup"]


async def test_send_message_with_keyboard(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(UID, "Valitse aika", reply_markup=keyboard("slot:1", "slot:2"))
    assert sent.message_id == 1 and sent.chat.id == UID and sent.from_user.is_bot
    [stored] = api.messages(UID)
    assert stored["text"] == "Valitse aika"
    assert stored["reply_markup"]["inline_keyboard"][1][0]["callback_data"] == "slot:2"
    assert (await bot.send_message(UID, "toinen")).message_id == 2
    assert api.calls_to("sendMessage")[0]["chat_id"] == UID  # decoded to int


async def test_callback_data_limit_is_64_bytes(api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=told("BUTTON_DATA_INVALID")):
        await bot.send_message(UID, "x", reply_markup=keyboard("ä" * 33))  # 66 bytes
    await bot.send_message(UID, "x", reply_markup=keyboard("a" * 64))
    assert len(api.messages(UID)) == 1


async def test_text_limits_and_unknown_chat(api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=told("message is too long")):
        await bot.send_message(UID, "a" * 4097)
    with pytest.raises(BadRequest, match=told("message text is empty")):
        await bot.send_message(UID, "  \n ")
    with pytest.raises(BadRequest, match=told("chat not found")):
        await bot.send_message(999, "hei")
    await bot.send_message(UID, "a" * 4096)
    api.block(UID)
    with pytest.raises(Forbidden, match=told("bot was blocked by the user")):
        await bot.send_message(UID, "hei")
    assert len(api.messages(UID)) == 1


async def test_html_parse_mode(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(
        UID, "<b>Kokous</b> &lt;ma&gt; <a href='https://x.fi'>linkki</a>", parse_mode="HTML"
    )
    assert sent.text == "Kokous <ma> linkki"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 6),
        ("text_link", 12, 6),
    ]
    with pytest.raises(BadRequest, match=told("can't parse entities")):
        await bot.send_message(UID, "<b>auki", parse_mode="HTML")
    with pytest.raises(BadRequest, match=told('unsupported start tag "div"')):
        await bot.send_message(UID, "<div>x</div>", parse_mode="HTML")


async def test_edit_message_text(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(UID, "vanha", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text(
        "uusi", chat_id=UID, message_id=sent.message_id, reply_markup=keyboard("b")
    )
    assert edited.text == "uusi" and edited.edit_date is not None
    [stored] = api.messages(UID)
    assert (
        stored["text"] == "uusi"
        and stored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
    )
    assert api.history(UID, sent.message_id)[0]["text"] == "vanha"
    with pytest.raises(BadRequest, match=told("message is not modified")):
        await bot.edit_message_text(
            "uusi", chat_id=UID, message_id=sent.message_id, reply_markup=keyboard("b")
        )
    with pytest.raises(BadRequest, match=told("message to edit not found")):
        await bot.edit_message_text("x", chat_id=UID, message_id=99)
    await bot.edit_message_reply_markup(chat_id=UID, message_id=sent.message_id)
    assert "reply_markup" not in api.messages(UID)[0]


async def test_send_document(api: FakeBotAPI, bot: Bot) -> None:
    content = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    sent = await bot.send_document(UID, content, filename="kokous.ics", caption="Kutsu")
    assert sent.document.file_name == "kokous.ics" and sent.caption == "Kutsu"
    [doc] = api.documents(UID)
    assert doc["data"] == content and doc["file_name"] == "kokous.ics"
    assert doc["mime_type"] == "text/calendar" and doc["file_size"] == len(content)
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    with pytest.raises(BadRequest, match=told("caption is too long")):
        await bot.send_document(UID, content, filename="a.ics", caption="x" * 1025)


async def test_commands_per_language(api: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Aloita")], language_code="fi")
    await bot.set_my_commands([BotCommand("start", "Start")])
    assert api.commands[("default", "fi")] == [{"command": "start", "description": "Aloita"}]
    assert api.commands[("default", "")][0]["description"] == "Start"
    assert (await bot.get_my_commands(language_code="fi"))[0].description == "Aloita"
    with pytest.raises(BadRequest, match=told("BOT_COMMAND_INVALID")):
        await bot.set_my_commands([BotCommand("Start", "x")])
    await bot.delete_my_commands(language_code="fi")
    assert ("default", "fi") not in api.commands


async def test_long_polling_and_offset(api: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for(lambda: api.calls_to("getUpdates"))
    assert not poll.done()
    api.send_text(UID, "/start@kerralla_test_bot hei")
    [update] = await asyncio.wait_for(poll, 2)
    assert update.message.text.startswith("/start")
    [entity] = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 24)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update.update_id]  # not yet confirmed
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert api.pending_updates == []
    started = asyncio.get_running_loop().time()
    assert await bot.get_updates(timeout=0.3) == ()
    assert asyncio.get_running_loop().time() - started >= 0.25


async def test_fault_injection(api: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    api.faults = lambda method, params: "429:7" if method == "sendMessage" else None
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(UID, "hei")
    assert info.value.retry_after == dtm.timedelta(seconds=7)
    api.faults = None
    api.fail_next("sendMessage", "drop")
    with pytest.raises(NetworkError):
        await bot.send_message(UID, "hei")
    api.fail_next("sendMessage", "500")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(UID, "hei")
    assert api.messages(UID) == [] and len(api.faulted) == 3
    await bot.send_message(UID, "hei")
    assert len(api.messages(UID)) == 1
    # Taken, but the answer never came back: the bot sees a network error, the chat the message.
    api.fail_next("sendMessage", "drop_after")
    with pytest.raises(NetworkError):
        await bot.send_message(UID, "taken")
    assert [m["text"] for m in api.messages(UID)] == ["hei", "taken"]
    assert [(method, result["text"]) for method, result in api.lost_answers] == [
        ("sendMessage", "taken")
    ]


async def test_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with FakeBotAPI(token=TOKEN, limits=True) as api:
        api.user(UID)
        limited = Bot(TOKEN, base_url=f"{api.url}/bot")
        async with limited:
            with pytest.raises(RetryAfter):
                for _ in range(10):
                    await limited.send_message(UID, "flood")
        assert api.rate_limited == 1 and len(api.messages(UID)) == FakeBotAPI.RATE_PRIVATE[1]


async def test_the_overall_limit_refuses_what_goes_over_30_a_second() -> None:
    async with FakeBotAPI(token=TOKEN, limits=True) as api:
        for chat in range(1, 61):
            api.user(chat)
        url = f"{api.url}/bot{TOKEN}/sendMessage"
        async with aiohttp.ClientSession() as http:

            async def send(chat: int) -> int:
                async with http.post(url, json={"chat_id": chat, "text": "hei"}) as response:
                    return response.status

            # Sixty at once, to sixty people: a burst of thirty passes, the rest get 429.
            statuses = await asyncio.gather(*(send(chat) for chat in range(1, 61)))
        passed = statuses.count(200)
        assert 30 <= passed < 40 and statuses.count(429) == 60 - passed
        assert api.rate_limited == 60 - passed
        assert sum(len(api.messages(chat)) for chat in range(1, 61)) == passed


async def seeded_faults(seed: int) -> list[str]:
    async with FakeBotAPI(token=TOKEN) as api:
        api.user(UID)
        api.random_faults(0.2, seed=seed)
        outcomes = []
        async with Bot(TOKEN, base_url=f"{api.url}/bot") as faulty:
            for _ in range(100):
                try:
                    await faulty.send_message(UID, "hei")
                    outcomes.append("ok")
                except RetryAfter:
                    outcomes.append("429")
                except NetworkError:
                    outcomes.append("error")
            assert await faulty.get_me()  # only sending methods are faulted
        assert len(api.messages(UID)) == outcomes.count("ok")
    return outcomes


async def test_random_faults_hit_a_fraction_of_the_calls_the_same_way_for_a_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    first = await seeded_faults(seed=7)
    assert 8 <= 100 - first.count("ok") <= 35
    assert {"429", "error"} <= set(first)
    assert await seeded_faults(seed=7) == first
    assert await seeded_faults(seed=8) != first


async def test_application_polling(api: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(
            f"Hei {update.effective_user.first_name}!", reply_markup=keyboard("ok")
        )

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Kiitos")
        await update.callback_query.edit_message_text("Vahvistettu")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{api.url}/bot")
        .base_file_url(f"{api.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0)
        try:
            api.send_text(UID, "/start")
            reply = await api.wait_for_message(UID, "Hei Aino", timeout=5)
            api.press(UID, reply["message_id"], "ok")
            await api.wait_for_message(UID, "Vahvistettu", timeout=5)
            assert api.answered_callbacks[0]["text"] == "Kiitos"
        finally:
            await app.updater.stop()
            await app.stop()
    assert api.pending_updates == []  # PTB confirmed everything on shutdown
