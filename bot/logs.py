"""Logging that never writes what it must not: tokens, names, texts people wrote."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # httpx logs every request URL, and a Bot API URL contains the bot's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Access logs would show the secret links of the web pages.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
