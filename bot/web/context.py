"""What the web handlers find on the application."""

from __future__ import annotations

from aiohttp import web

from ..services import Services

SERVICES = web.AppKey("services", Services)
