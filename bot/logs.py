"""Logging that never writes what it must not: tokens, names, texts people wrote."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from scheduling.errors import describe

# Libraries whose debug output carries message texts, request parameters or URLs with the
# bot's token: never below INFO, whatever LOG_LEVEL says.
CHATTY_LIBRARIES = ("telegram", "httpx", "httpcore", "aiohttp.access", "aiosqlite", "asyncpg")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class Redact(logging.Filter):
    """Replaces each secret in a formatted record with «redacted», as a last line of defence."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "«redacted»")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class OnlyExceptionKind(logging.Filter):
    """Turns a record's exception into its kind and place (scheduling.errors.describe): a
    library's traceback would otherwise carry the exception's message, which may quote a
    person's words or a database row, into the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exception_kind = describe(record.exc_info[1])
            record.exc_info = None
            record.exc_text = None
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        kind = getattr(record, "exception_kind", None)
        return super().format(record) + (f" [{kind}]" if kind else "")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald and log collectors.

    An exception appears only as its type's name: its message and traceback may quote what a
    person wrote or a database row (child-protection data must not reach the logs).
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        kind = getattr(record, "exception_kind", None)
        if kind:
            entry["exception"] = kind
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str, secrets: Iterable[str] = (), fmt: str = "text", stream: TextIO | None = None
) -> None:
    """Log to `stream` (stderr by default) as text lines or, with fmt="json", JSON lines."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    handler.addFilter(OnlyExceptionKind())
    handler.addFilter(Redact(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    floor = max(logging.getLevelName(level), logging.INFO)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(floor if name != "httpx" else logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
