"""Logging that never writes what it must not: tokens, names, texts people wrote."""

from __future__ import annotations

import logging
from collections.abc import Iterable

# Libraries whose debug output carries message texts, request parameters or URLs with the
# bot's token: never below INFO, whatever LOG_LEVEL says.
CHATTY_LIBRARIES = ("telegram", "httpx", "httpcore", "aiohttp.access", "aiosqlite", "asyncpg")


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


def configure(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    floor = max(logging.getLevelName(level), logging.INFO)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(floor if name != "httpx" else logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
