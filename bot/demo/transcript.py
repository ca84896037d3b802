"""The demo's conversation as each person sees it, printed line by line as it happens.

`ObservedBotAPI` is the fake Bot API keeping, in order, every message the bot sent or edited
and every notice it showed on a button press. `Transcript` prints those — each line marked
with whose screen it appeared on — together with what the people typed and pressed and the
emails the mail server received, and saves every calendar file and email into one folder.
"""

from __future__ import annotations

import copy
import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .fake_bot_api import JSON, FakeBotAPI
from .mailbox import Mailbox, Received, safe_name


@dataclass(frozen=True)
class Shown:
    """One change on someone's screen: a new message, an edited one, or a notice."""

    kind: str  # "new", "edit" or "notice"
    chat_id: int
    message: JSON
    only_buttons: bool = False  # an edit that changed the buttons and nothing else


class ObservedBotAPI(FakeBotAPI):
    """The fake Bot API, remembering every message shown and every notice, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown: list[Shown] = []
        self._pressed_by: dict[str, int] = {}

    def _post(self, chat: JSON, params: JSON, **content: Any) -> JSON:
        message = super()._post(chat, params, **content)
        self.shown.append(Shown("new", chat["id"], copy.deepcopy(message)))
        return message

    def _edit(self, message: JSON, changes: JSON) -> JSON:
        before = {key: message.get(key) for key in ("text", "caption", "document")}
        edited = super()._edit(message, changes)
        same = all(edited.get(key) == value for key, value in before.items())
        self.shown.append(Shown("edit", edited["chat"]["id"], copy.deepcopy(edited), same))
        return edited

    def press(self, user_id: int, message_id: int, callback_data: str, **options: Any) -> str:
        query_id = super().press(user_id, message_id, callback_data, **options)
        self._pressed_by[query_id] = user_id
        return query_id

    def _api_answerCallbackQuery(self, params: JSON) -> bool:
        answered = super()._api_answerCallbackQuery(params)
        user_id = self._pressed_by.get(str(params.get("callback_query_id")))
        if params.get("text") and user_id is not None:
            self.shown.append(Shown("notice", user_id, {"text": str(params["text"])}))
        return answered

    def current(self, chat_id: int, message_id: int) -> JSON:
        """A message of the bot as it is now (edits applied)."""
        return next(m for m in self.messages(chat_id) if m["message_id"] == message_id)


def button_rows(message: JSON) -> list[list[JSON]]:
    return (message.get("reply_markup") or {}).get("inline_keyboard", [])


def keyboard_lines(rows: list[list[JSON]], width: int = 100) -> list[str]:
    """Buttons as `[ label ]`, a line per row; a long list of one-button rows is packed into
    fewer lines, so that a directory or a list of roles does not fill the screen."""
    lines: list[str] = []
    packing = False
    for n, row in enumerate(rows):
        shown = "  ".join(f"[ {key['text']} ]" for key in row)
        single = len(row) == 1
        run = single and sum(1 for _ in itertools.takewhile(lambda r: len(r) == 1, rows[n:]))
        if single and (packing or run >= 4) and lines and len(lines[-1]) + len(shown) < width:
            lines[-1] += "  " + shown
        else:
            lines.append(shown)
        packing = single and (packing or run >= 4)
    return lines


class Numbering:
    """File numbers shared by the chat's files and the mail server's thread."""

    def __init__(self) -> None:
        self._count: Iterator[int] = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return next(self._count)


class Transcript:
    def __init__(
        self,
        api: ObservedBotAPI,
        names: dict[int, str],
        folder: Path,
        numbering: Callable[[], int],
        out: TextIO,
        bot_name: str = "Kerralla",
    ) -> None:
        self.api, self.names, self.folder = api, names, folder
        self.numbering, self.out, self.bot_name = numbering, out, bot_name
        self.printed = 0
        self.mailbox: Mailbox | None = None
        self.files: list[Path] = []

    # -- what people do and what the narrator says -------------------------------------------

    def heading(self, text: str) -> None:
        self.flush()
        self._write("")
        self._write(f"── {text} ──")

    def note(self, text: str, flush: bool = True) -> None:
        """A line of the narrator; without `flush`, before whatever the bot showed meanwhile."""
        if flush:
            self.flush()
        self._write(f"   {text}")

    def typed(self, user_id: int, text: str) -> None:
        self.flush()
        self._block(f"[{self.names[user_id]}] → ", text.splitlines() or [""])

    def pressed(self, user_id: int, label: str, context: str = "", flush: bool = True) -> None:
        if flush:
            self.flush()
        where = f"{context}: " if context else ""
        self._write(f"[{self.names[user_id]}] → {where}[ {label} ]")

    def page(self, user_id: int, url: str, lines: list[str]) -> None:
        """Someone opened a web page: its address, then what it shows."""
        self.flush()
        self._write(f"[{self.names[user_id]}] → {url}")
        self._block(f"[{self.bot_name} 🌐 → {self.names[user_id]}] ", lines)

    # -- what the bot and the mail server did ------------------------------------------------

    def flush(self) -> None:
        """Print everything shown since the last flush; an often-edited message once, as it
        ended up, at the place of its last edit."""
        events = self.api.shown[self.printed :]
        self.printed += len(events)
        last_edit = {
            (e.chat_id, e.message["message_id"]): i
            for i, e in enumerate(events)
            if e.kind == "edit"
        }
        notices: set[tuple[int, str]] = set()
        for i, event in enumerate(events):
            if (
                event.kind == "edit"
                and last_edit[(event.chat_id, event.message["message_id"])] != i
            ):
                continue
            if event.kind == "notice":
                key = (event.chat_id, event.message["text"])
                if key not in notices:
                    notices.add(key)
                    self._block(self._to(event.chat_id) + "💬 ", [event.message["text"]])
                continue
            self._message(event)
        self._emails()

    def _message(self, event: Shown) -> None:
        message, prefix = event.message, self._to(event.chat_id)
        if event.kind == "edit":
            prefix += "✎ "
        lines: list[str] = []
        if event.only_buttons:
            pass
        elif "document" in message:
            name = message["document"].get("file_name", "file")
            lines.append(f"📎 {name}  ({self._save(event)})")
            if message.get("caption"):
                lines += message["caption"].splitlines()
        elif message.get("text"):
            lines += message["text"].splitlines()
        rows = button_rows(message)
        if not lines and not rows:
            return  # only the buttons were taken away
        self._block(prefix, lines + keyboard_lines(rows))

    def _save(self, event: Shown) -> str:
        document = event.message["document"]
        data = self.api.files[document["file_id"]].data
        first = self.names.get(event.chat_id, str(event.chat_id)).split(",")[0].split()[0]
        name = f"{self.numbering():02d}-{safe_name(first.lower())}-{document.get('file_name')}"
        (self.folder / name).write_bytes(data)
        self.files.append(self.folder / name)
        return name

    def _emails(self) -> None:
        if self.mailbox is None:
            return
        while True:
            try:
                mail: Received = self.mailbox.arrived.get_nowait()
            except queue.Empty:
                return
            self.files.append(mail.path)
            kinds = [part.get_content_type() for part in mail.message.walk()]
            calendar = " + text/calendar" if "text/calendar" in kinds else ""
            self._block(
                f"[{self.bot_name} → ✉ {', '.join(mail.recipients)}] ",
                [str(mail.message["Subject"]), f"({mail.path.name}{calendar})"],
            )

    # -- writing ----------------------------------------------------------------------------

    def _to(self, chat_id: int) -> str:
        return f"[{self.bot_name} → {self.names.get(chat_id, str(chat_id))}] "

    def _block(self, prefix: str, lines: list[str]) -> None:
        indent = " " * len(prefix)
        for n, line in enumerate(lines):
            self._write((prefix if n == 0 else indent) + line)

    def _write(self, line: str) -> None:
        print(re.sub(r"\s+$", "", line), file=self.out, flush=True)
