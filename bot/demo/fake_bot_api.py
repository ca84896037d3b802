"""A fake Telegram Bot API server (aiohttp on loopback) for end-to-end bot tests and the demo.

Point PTB at it with ``base_url=f"{api.url}/bot"`` and ``base_file_url=f"{api.url}/file/bot"``.
Updates wait for getUpdates, or — once setWebhook has registered a URL — are posted there with
the secret header, as Telegram does (``fake_webhook.py``); ``local=True`` accepts http:// URLs
on any port, like a self-hosted Bot API server started with ``--local``.
Run ``python -m bot.demo.fake_bot_api --port 8081 --token TOKEN`` for manual exploration.
The tests import it as ``tests.fake_bot_api`` too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import inspect
import itertools
import json
import math
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from .fake_webhook import Delivery, WebhookSender

JSON = dict[str, Any]
Fault = Callable[[str, JSON], str | int | None]

MAX_TEXT, MAX_CAPTION, MAX_CALLBACK_DATA, MAX_BUTTONS, MAX_COMMANDS = 4096, 1024, 64, 100, 100
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "reaction",
        "menu_button",
        "rights",
    }
)
_INT_FIELDS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "user_id",
        "from_chat_id",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "is_personal",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "for_channels",
    }
)
_DEFAULT_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "business_message",
    }
)
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "pay",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
)
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_RATE_LIMITED = ("send", "edit", "copy", "forward")


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class UploadedFile:
    """A file received in a multipart request (or stored for getFile)."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait_time(self, now: float) -> float:
        """Refill and return 0 if a token is available, else seconds until one is."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _HtmlEntities(HTMLParser):
    """Telegram's HTML parse_mode: plain text plus MessageEntity dicts (UTF-16 offsets)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source, self.parts, self.pos = source, [], 0
        self.stack: list[tuple[str, str, int, dict[str, str | None]]] = []
        self.entities: list[JSON] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        chars = sum(len(x) for x in self.source.splitlines(keepends=True)[: line - 1]) + col
        return len(self.source[:chars].encode())

    def _fail(self, reason: str) -> ApiError:
        return bad(f"can't parse entities: {reason}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and attr.get("class") != "tg-spoiler"):
            raise self._fail(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')
        self.stack.append((tag, _HTML_TAGS[tag], self.pos, attr))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise self._fail(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise self._fail(f"Unexpected end tag at byte offset {self._offset()}")
        name, kind, start, attr = self.stack.pop()
        if name != tag:
            raise self._fail(
                f"Unmatched end tag at byte offset {self._offset()}, "
                f'expected "</{name}>", found "</{tag}>"'
            )
        cls = attr.get("class") or ""
        if kind == "code" and self.stack and self.stack[-1][1] == "pre":
            if cls.startswith("language-"):
                self.stack[-1][3]["language"] = cls.removeprefix("language-")
            return
        if self.pos == start or (kind == "text_link" and not attr.get("href")):
            return
        entity: JSON = {"type": kind, "offset": start, "length": self.pos - start}
        if kind == "text_link":
            entity["url"] = attr["href"]
        elif kind == "pre" and attr.get("language"):
            entity["language"] = attr["language"]
        elif kind == "blockquote" and "expandable" in attr:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.pos += utf16_len(data)

    def result(self) -> tuple[str, list[JSON]]:
        self.feed(self.source)
        self.close()
        if self.stack:
            tag = self.stack[-1][0]
            raise self._fail(f'Can\'t find end tag corresponding to start tag "{tag}"')
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def rich_text(
    text: str, parse_mode: str | None, entities: list[JSON] | None
) -> tuple[str, list[JSON] | None]:
    """Apply parse_mode (HTML parsed; Markdown passed through) and strip like Telegram."""
    if parse_mode and parse_mode.lower() == "html":
        text, entities = _HtmlEntities(text).result()
    elif parse_mode and parse_mode.lower() not in ("markdown", "markdownv2"):
        raise bad("unsupported parse_mode")
    stripped = text.strip()
    if entities:
        shift, end = utf16_len(text[: len(text) - len(text.lstrip())]), utf16_len(stripped)
        moved = []
        for entity in entities:
            start = max(0, entity["offset"] - shift)
            stop = min(end, entity["offset"] + entity["length"] - shift)
            if stop > start:
                moved.append({**entity, "offset": start, "length": stop - start})
        entities = moved
    return stripped, entities or None


def check_markup(markup: Any, inline_only: bool = False) -> JSON | None:
    """Validate reply_markup like Telegram does; returns it unchanged."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad("inline keyboard expected")
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('field "inline_keyboard" must be an Array of Arrays')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_BUTTONS:
        raise bad("reply markup is too long")
    for button in buttons:
        if not isinstance(button, dict) or not button.get("text"):
            raise bad("can't parse inline keyboard button: Text is empty")
        if not any(key in button for key in _BUTTON_ACTIONS):
            raise bad(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise bad("BUTTON_DATA_INVALID")
        if "url" in button and not re.match(r"(https?|tg)://\S+$", str(button["url"])):
            raise bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
    return markup


def decode_param(name: str, value: Any) -> Any:
    """Decode one form/query value: PTB JSON-encodes every non-string value."""
    if not isinstance(value, str):
        return value
    try:
        if name in _JSON_FIELDS:
            return json.loads(value)
        if name == "chat_id":
            return int(value) if re.fullmatch(r"-?\d+", value) else value
        if name in _INT_FIELDS:
            return int(value)
        if name == "timeout":
            return float(value)
    except ValueError:
        raise bad(
            f"can't parse {name} JSON object"
            if name in _JSON_FIELDS
            else f'field "{name}" must be a valid Number'
        ) from None
    if name in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


class FakeBotAPI:
    """In-process fake of api.telegram.org; test helpers are plain methods on it."""

    RATE_GLOBAL = (30.0, 30.0)  # (tokens per second, burst)
    RATE_PRIVATE = (1.0, 5.0)
    RATE_GROUP = (20 / 60, 20.0)

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "kerralla_test_bot",
        *,
        first_name: str = "Kerralla",
        limits: bool = False,
        local: bool = False,
    ) -> None:
        self.token, self.limits, self.local = token, limits, local
        head = token.split(":", 1)[0]
        self.bot: JSON = {
            "id": int(head) if head.isdigit() else 123456,
            "is_bot": True,
            "first_name": first_name,
            "username": bot_username,
        }
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.blocked: set[int] = set()
        self.calls: list[tuple[str, JSON]] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.answered_callbacks: list[JSON] = []
        self.reply_keyboards: dict[int, JSON] = {}
        self.deleted: list[JSON] = []
        self.files: dict[str, UploadedFile] = {}
        self.faults: Fault | None = None
        self.faulted: list[tuple[str, JSON, str]] = []
        # What a call did although its answer never reached the bot ("drop_after").
        self.lost_answers: list[tuple[str, Any]] = []
        self.rate_limited = 0
        self.webhook_url = ""
        self.webhook_deliveries: list[Delivery] = []
        self._webhook: WebhookSender | None = None
        self._next_faults: list[tuple[str, str]] = []
        self._messages: dict[int, dict[int, JSON]] = {}
        self._history: dict[tuple[int, int], list[JSON]] = {}
        self._last_id: dict[int, int] = {}
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._callbacks: set[str] = set()
        self._allowed: frozenset[str] = _DEFAULT_UPDATES
        self._poll_gen = 0
        self._buckets: dict[int | str, _Bucket] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._url = ""
        self._methods: dict[str, tuple[str, Callable[[JSON], Any]]] = {
            name.removeprefix("_api_").lower(): (name.removeprefix("_api_"), getattr(self, name))
            for name in dir(self)
            if name.startswith("_api_")
        }

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeBotAPI:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_post("/_test/send_text", self._ctl_send_text)
        app.router.add_post("/_test/press", self._ctl_press)
        app.router.add_post("/_test/update", self._ctl_update)
        app.router.add_get("/_test/messages", self._ctl_messages)
        app.router.add_get("/_test/calls", self._ctl_calls)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        self._closing = True
        self._bump()
        if self._webhook is not None:
            await self._webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- test helpers
    def user(
        self,
        user_id: int,
        first_name: str = "Testi",
        language_code: str = "fi",
        username: str | None = None,
        last_name: str | None = None,
    ) -> JSON:
        """Register (or update) a user and their private chat; returns the User dict."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        self.users[user_id] = {k: v for k, v in user.items() if v is not None}
        self.chats[user_id] = {
            k: v
            for k, v in {
                "id": user_id,
                "type": "private",
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
            }.items()
            if v is not None
        }
        return self.users[user_id]

    def group(self, chat_id: int, title: str = "Testiryhmä", type: str = "group") -> JSON:
        """Register a group chat (negative id) the bot is a member of."""
        self.chats[chat_id] = {"id": chat_id, "type": type, "title": title}
        return self.chats[chat_id]

    def block(self, user_id: int, blocked: bool = True, notify: bool = True) -> None:
        """Mark a user as having blocked (or unblocked) the bot, like Telegram does."""
        user = self.users.get(user_id) or self.user(user_id)
        (self.blocked.add if blocked else self.blocked.discard)(user_id)
        if notify:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            member = {"user": self.bot, "status": new}
            if blocked:
                member["until_date"] = 0
            self._enqueue(
                {
                    "my_chat_member": {
                        "chat": self.chats[user_id],
                        "from": user,
                        "date": int(time.time()),
                        "old_chat_member": {"user": self.bot, "status": old, "until_date": 0},
                        "new_chat_member": member,
                    }
                }
            )

    def send_text(self, user_id: int, text: str, chat_id: int | None = None) -> JSON:
        """Enqueue a text message from a user (private chat unless chat_id is given)."""
        user = self.users.get(user_id) or self.user(user_id)
        message: JSON = {
            "from": user,
            "chat": self.chats[user_id if chat_id is None else chat_id],
            "text": text,
        }
        if match := _COMMAND_RE.match(text):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}
            ]
        return self.send_update({"message": message})

    def send_update(self, update: JSON) -> JSON:
        """Enqueue an arbitrary update; fills update_id, message_id and date when missing."""
        for key in ("message", "edited_message", "channel_post"):
            if isinstance(message := update.get(key), dict) and "chat" in message:
                chat = message["chat"]
                self.chats.setdefault(chat["id"], chat)
                message.setdefault("date", int(time.time()))
                if key != "edited_message" and "message_id" not in message:
                    message["message_id"] = self._next_message_id(chat["id"])
                    self._messages.setdefault(chat["id"], {})[message["message_id"]] = message
        return self._enqueue(update)

    def press(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        check: bool = True,
    ) -> str:
        """Enqueue a callback_query for a button on a bot message; returns the query id."""
        user = self.users.get(user_id) or self.user(user_id)
        chat_id = user_id if chat_id is None else chat_id
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if check and not any(b.get("callback_data") == callback_data for r in rows for b in r):
            raise ValueError(f"message {message_id} has no button with data {callback_data!r}")
        query_id = str(next(self._ids) * 1_000_003 + secrets.randbelow(1000))
        self._callbacks.add(query_id)
        self._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": copy.deepcopy(message),
                    "chat_instance": str(-abs(hash((self.bot["id"], user_id)))),
                    "data": callback_data,
                }
            }
        )
        return query_id

    def messages(self, chat_id: int) -> list[JSON]:
        """The bot's current messages in a chat (edits applied, deletions removed)."""
        return [
            copy.deepcopy(m)
            for m in self._messages.get(chat_id, {}).values()
            if m["from"]["id"] == self.bot["id"]
        ]

    def documents(self, chat_id: int) -> list[JSON]:
        """Documents the bot sent to a chat, with the uploaded bytes under "data"."""
        return [
            {
                "message_id": m["message_id"],
                "caption": m.get("caption"),
                **m["document"],
                "data": self.files[m["document"]["file_id"]].data,
            }
            for m in self.messages(chat_id)
            if "document" in m
        ]

    def history(self, chat_id: int, message_id: int) -> list[JSON]:
        """Earlier versions of an edited bot message, oldest first."""
        return copy.deepcopy(self._history.get((chat_id, message_id), []))

    def calls_to(self, method: str) -> list[JSON]:
        """Parameters of every call to one method, in order."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    def fail_next(self, method: str, fault: str = "500", times: int = 1) -> None:
        """Fault the next `times` calls of a method ("429[:N]", "500", "502", "drop",
        "slow[:SECONDS]", ...)."""
        self._next_faults.extend([(method.lower(), fault)] * times)

    def random_faults(
        self,
        fraction: float,
        *,
        seed: int = 0,
        kinds: tuple[str, ...] = ("429", "500", "drop"),
        retry_after: int = 1,
        methods: tuple[str, ...] = _RATE_LIMITED,
    ) -> None:
        """Fault a `fraction` of the calls to sending methods, chosen by a seeded random:
        "429" (with `retry_after`), "500", "502", "drop" (the connection closes before the
        message is taken) or "drop_after" (closes after it was taken). 0 turns them off."""
        chooser = random.Random(seed)

        def fault(method: str, params: JSON) -> str | None:
            if not method.lower().startswith(methods) or chooser.random() >= fraction:
                return None
            kind = chooser.choice(kinds)
            return f"429:{retry_after}" if kind == "429" else kind

        self.faults = fault if fraction > 0 else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:
        """Wait until predicate() is truthy (re-checked after every API event); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if value := predicate():
                return value
            if (remaining := deadline - loop.time()) <= 0:
                recent = [name for name, _ in self.calls[-8:]]
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        timeout: float = 10,
        *,
        after: int = 0,
    ) -> JSON:
        """First bot message in the chat (id > after) whose text/caption contains `contains`."""

        def find() -> JSON | None:
            for message in self.messages(chat_id):
                body = message.get("text") or message.get("caption") or ""
                if message["message_id"] > after and (contains is None or contains in body):
                    return message
            return None

        return await self.wait_for(find, timeout)

    # ----------------------------------------------------------------- internals
    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _enqueue(self, update: JSON) -> JSON:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._bump()
        return update

    def _next_message_id(self, chat_id: int) -> int:
        self._last_id[chat_id] = self._last_id.get(chat_id, 0) + 1
        return self._last_id[chat_id]

    def _chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad("chat_id is empty")
        chat = (
            self.chats.get(chat_id)
            if isinstance(chat_id, int)
            else next((c for c in self.chats.values() if f"@{c.get('username')}" == chat_id), None)
        )
        if chat is None:
            raise bad("chat not found")
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _post(self, chat: JSON, params: JSON, **content: Any) -> JSON:
        message: JSON = {"message_id": 0, "from": self.bot, "chat": chat, "date": int(time.time())}
        message.update({k: v for k, v in content.items() if v is not None})
        stored = self._messages.setdefault(chat["id"], {})
        reply = params.get("reply_parameters") or {}
        reply_id = reply.get("message_id") or params.get("reply_to_message_id")
        if reply_id is not None:
            if reply_id in stored:
                message["reply_to_message"] = {
                    k: v for k, v in stored[reply_id].items() if k != "reply_to_message"
                }
            elif not (
                reply.get("allow_sending_without_reply")
                or params.get("allow_sending_without_reply")
            ):
                raise bad("message to be replied not found")
        markup = message.get("reply_markup")
        if markup is not None and "inline_keyboard" not in markup:
            self.reply_keyboards[chat["id"]] = message.pop("reply_markup")
        message["message_id"] = self._next_message_id(chat["id"])
        stored[message["message_id"]] = message
        return copy.deepcopy(message)

    def _target(self, params: JSON) -> JSON:
        if "inline_message_id" in params:
            raise bad("MESSAGE_ID_INVALID")
        if params.get("message_id") is None:
            raise bad("message identifier is not specified")
        chat = self._chat(params)
        message = self._messages.get(chat["id"], {}).get(params["message_id"])
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.bot["id"]:
            raise bad("message can't be edited")
        return message

    def _edit(self, message: JSON, changes: JSON) -> JSON:
        if all(message.get(key) == value for key, value in changes.items()):
            raise bad(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        key = (message["chat"]["id"], message["message_id"])
        self._history.setdefault(key, []).append(copy.deepcopy(message))
        for name, value in changes.items():
            if value is None:
                message.pop(name, None)
            else:
                message[name] = value
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _caption(self, params: JSON) -> tuple[str | None, list[JSON] | None]:
        if params.get("caption") is None:
            return None, None
        caption, entities = rich_text(
            str(params["caption"]), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(caption) > MAX_CAPTION:
            raise bad("message caption is too long")
        return caption or None, entities

    @staticmethod
    def _text(params: JSON) -> tuple[str, list[JSON] | None]:
        text, entities = rich_text(
            str(params.get("text") or ""), params.get("parse_mode"), params.get("entities")
        )
        if not text:
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("message is too long")
        return text, entities

    def _take_fault(self, method: str, params: JSON) -> str | None:
        for i, (name, fault) in enumerate(self._next_faults):
            if name == method.lower():
                del self._next_faults[i]
                return fault
        fault = self.faults(method, params) if self.faults else None
        return None if fault is None else str(fault)

    def _throttle(self, method: str, params: JSON) -> None:
        if not method.lower().startswith(_RATE_LIMITED):
            return
        chat_id = params.get("chat_id")
        keys: list[tuple[int | str, tuple[float, float]]] = [("*", self.RATE_GLOBAL)]
        if isinstance(chat_id, int):
            keys.append((chat_id, self.RATE_PRIVATE if chat_id > 0 else self.RATE_GROUP))
        now = time.monotonic()
        buckets = [self._buckets.setdefault(key, _Bucket(*rate)) for key, rate in keys]
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait > 0:
            self.rate_limited += 1
            raise too_many(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= 1

    async def _params(self, request: web.Request) -> JSON:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            try:
                body = await request.json() if request.can_read_body else {}
            except ValueError:
                raise bad("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad("can't parse JSON object")
            raw.update(body)
        elif request.can_read_body:
            for name, value in (await request.post()).items():
                raw[name] = (
                    UploadedFile(value.filename, value.content_type, value.file.read())
                    if isinstance(value, web.FileField)
                    else value
                )
        return {name: decode_param(name, value) for name, value in raw.items()}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        method, func = entry
        fault: str | None = None
        try:
            params = await self._params(request)
            self.calls.append((method, params))
            self._bump()
            if fault := self._take_fault(method, params):
                self.faulted.append((method, params, fault))
                if fault.startswith("429"):
                    raise too_many(int(fault.partition(":")[2] or 1))
                if fault in ("500", "502"):
                    raise ApiError(
                        int(fault), "Internal Server Error" if fault == "500" else "Bad Gateway"
                    )
                if fault == "drop":
                    return self._drop(request)
                if fault.startswith("slow"):  # answers, but only after a while
                    await asyncio.sleep(float(fault.partition(":")[2] or 1))
            if self.limits:
                self._throttle(method, params)
            result = func(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code)
        finally:
            self._bump()
        if fault == "drop_after":
            self.lost_answers.append((method, copy.deepcopy(result)))
            return self._drop(request)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        file = next((f for fid, f in self.files.items() if f"documents/{fid}" == path), None)
        if request.match_info["token"] != self.token or file is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=file.data, content_type=file.content_type)

    # ----------------------------------------------------------------- Bot API methods
    def _api_getMe(self, params: JSON) -> JSON:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getUpdates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_gen += 1
        generation, offset = self._poll_gen, params.get("offset") or 0
        limit = min(max(params.get("limit") or 100, 1), 100)
        if params.get("allowed_updates") is not None:
            self._allowed = frozenset(params["allowed_updates"]) or _DEFAULT_UPDATES
        if offset < 0:
            del self._updates[:offset]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, float(params.get("timeout") or 0))
        while True:
            event = self._changed
            if generation != self._poll_gen:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._updates = [u for u in self._updates if not self._allowed.isdisjoint(u)]
            if self._updates or self._closing or (remaining := deadline - loop.time()) <= 0:
                return copy.deepcopy(self._updates[:limit])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _api_setWebhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not self.local:
            if not url.startswith("https://"):
                raise bad("bad webhook: An HTTPS URL must be provided for webhook")
            port = re.match(r"https://[^/:]+(?::(\d+))?", url)
            if port and port.group(1) and int(port.group(1)) not in (443, 80, 88, 8443):
                raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        if params.get("allowed_updates") is not None:
            self._allowed = frozenset(params["allowed_updates"]) or _DEFAULT_UPDATES
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        self.webhook_url = url
        if url:
            self._webhook = WebhookSender(self, url, secret, max_connections)
            self._webhook.start()
        return True

    async def _api_deleteWebhook(self, params: JSON) -> bool:
        return await self._api_setWebhook(
            {"url": "", "drop_pending_updates": params.get("drop_pending_updates")}
        )

    def _api_getWebhookInfo(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            info["allowed_updates"] = sorted(self._allowed)
            if self._webhook.last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook.last_error
        return info

    @property
    def webhook_secret(self) -> str | None:
        """The secret the bot registered with setWebhook (None: none, or no webhook)."""
        return self._webhook.secret if self._webhook is not None else None

    def _api_sendMessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text, entities = self._text(params)
        markup = check_markup(params.get("reply_markup"))
        return self._post(
            chat,
            params,
            text=text,
            entities=entities,
            reply_markup=markup,
            link_preview_options=params.get("link_preview_options"),
        )

    def _api_sendDocument(self, params: JSON) -> JSON:
        chat = self._chat(params)
        doc = params.get("document")
        if isinstance(doc, UploadedFile):
            if not doc.data:
                raise bad("file must be non-empty")
            file_id = f"BQAC{secrets.token_hex(12)}"
            self.files[file_id] = doc
        elif isinstance(doc, str) and doc in self.files:
            file_id = doc
        elif doc is None:
            raise bad("there is no document in the request")
        else:
            raise bad("wrong file identifier/HTTP URL specified")
        file = self.files[file_id]
        caption, entities = self._caption(params)
        markup = check_markup(params.get("reply_markup"))
        document = {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-8:]}",
            "file_name": file.filename,
            "file_size": len(file.data),
            "mime_type": file.content_type or "application/octet-stream",
        }
        return self._post(
            chat,
            params,
            document={k: v for k, v in document.items() if v},
            caption=caption,
            caption_entities=entities,
            reply_markup=markup,
        )

    def _api_getFile(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise bad("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-8:]}",
            "file_size": len(self.files[file_id].data),
            "file_path": f"documents/{file_id}",
        }

    def _api_editMessageText(self, params: JSON) -> JSON:
        message = self._target(params)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        text, entities = self._text(params)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        return self._edit(message, {"text": text, "entities": entities, "reply_markup": markup})

    def _api_editMessageCaption(self, params: JSON) -> JSON:
        message = self._target(params)
        caption, entities = self._caption(params)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        return self._edit(
            message, {"caption": caption, "caption_entities": entities, "reply_markup": markup}
        )

    def _api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        message = self._target(params)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        return self._edit(message, {"reply_markup": markup})

    def _api_deleteMessage(self, params: JSON) -> bool:
        chat = self._chat(params)
        message = self._messages.get(chat["id"], {}).pop(params.get("message_id"), None)
        if message is None:
            raise bad("message to delete not found")
        self.deleted.append(message)
        return True

    def _api_answerCallbackQuery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callbacks:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise bad("MESSAGE_TOO_LONG")
        self._callbacks.discard(query_id)
        self.answered_callbacks.append(params)
        return True

    def _api_sendChatAction(self, params: JSON) -> bool:
        self._chat(params)
        return True

    @staticmethod
    def _scope_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        key = scope.get("type", "default")
        for extra in ("chat_id", "user_id"):
            if extra in scope:
                key += f":{scope[extra]}"
        return key, str(params.get("language_code") or "")

    def _api_setMyCommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            description = str(command.get("description", "")).strip()
            if not description:
                raise bad("command description must be non-empty")
            if len(description) > 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(params)
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    def _api_getMyCommands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._scope_key(params), []))

    def _api_deleteMyCommands(self, params: JSON) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _api_close(self, params: JSON) -> bool:
        return True

    _api_logOut = _api_close

    # ----------------------------------------------------------------- HTTP control
    async def _ctl_send_text(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(self.send_text(int(body["user_id"]), str(body["text"])))

    async def _ctl_press(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = body.get("data", body.get("callback_data"))
        try:
            query_id = self.press(int(body["user_id"]), int(body["message_id"]), str(data))
        except (KeyError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"callback_query_id": query_id})

    async def _ctl_update(self, request: web.Request) -> web.Response:
        return web.json_response(self.send_update(await request.json()))

    async def _ctl_messages(self, request: web.Request) -> web.Response:
        return web.json_response(self.messages(int(request.query["chat_id"])))

    async def _ctl_calls(self, request: web.Request) -> web.Response:
        dumps = functools.partial(json.dumps, default=repr)
        return web.json_response([list(call) for call in self.calls], dumps=dumps)


def main(argv: list[str] | None = None) -> None:
    """Run the fake server until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="kerralla_test_bot")
    parser.add_argument("--limits", action="store_true", help="enforce Telegram rate limits")
    parser.add_argument(
        "--local", action="store_true", help="accept http:// webhooks on any port (--local)"
    )
    parser.add_argument(
        "--faults", type=float, default=0.0, help="fault this fraction of sending calls"
    )
    parser.add_argument("--seed", type=int, default=0, help="the faults' random seed")
    args = parser.parse_args(argv)

    async def serve() -> None:
        api = FakeBotAPI(args.token, args.bot_username, limits=args.limits, local=args.local)
        api.random_faults(args.faults, seed=args.seed)
        await api.start(args.host, args.port)
        print(f"Fake Telegram Bot API at {api.url} (base_url={api.url}/bot)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await api.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
