"""The aiohttp application: routes, security headers and the health check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from scheduling.calendar_files import feed
from scheduling.db import READ_ONLY
from scheduling.errors import StartupError
from scheduling.feeds import feed_meetings

from ..services import Services
from . import family, summary
from .context import SERVICES
from .health import healthz
from .limits import rate_limits
from .pages import TEMPLATES, render, request_translator

STATIC = TEMPLATES.parent / "static"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    # Links carry secrets: never pass them on; nothing from other sites; no framing.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    return response


async def calendar_feed(request: web.Request) -> web.Response:
    """A person's secret feed: unknown, revoked and expired addresses all answer 404."""
    services = request.app[SERVICES]
    now = services.now()
    async with services.sessions() as session:
        await session.connection(execution_options=READ_ONLY)
        found = await feed_meetings(session, request.match_info["token"], now)
    if found is None:
        raise web.HTTPNotFound()
    meetings, locale = found
    body = feed(meetings, services.translator(locale), services.settings, now)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


async def front_page(request: web.Request) -> web.Response:
    settings = request.app[SERVICES].settings
    t = request_translator(request, settings.default_locale, settings.timezone)
    return render(request, "front.html", t)


def build_web_app(services: Services) -> web.Application:
    if services.settings.data_key is None:  # no secret has a default
        raise StartupError(
            "DATA_KEY is not set: it seals the family's answers and signs their forms. Create "
            "one with `kerralla generate-key` and set DATA_KEY in the environment or in .env."
        )
    app = web.Application(
        middlewares=[security_headers, rate_limits(services.settings)], client_max_size=64 * 1024
    )
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", front_page)
    app.router.add_get(r"/ics/{token:[A-Za-z0-9_-]{1,64}}.ics", calendar_feed)
    family.add_routes(app)
    summary.add_routes(app)
    app.router.add_static("/static", STATIC, append_version=True)
    return app
