"""The family's own page, for those without Telegram: when and where the meeting is, and the
meeting for their calendar. Reached only by the family member's secret link."""

from __future__ import annotations

from aiohttp import web

from scheduling.calendar_files import for_participant
from scheduling.db import READ_ONLY
from scheduling.i18n import LOCALES, negotiate_locale, translator
from scheduling.meetings import FamilyView, family_view
from scheduling.models import MeetingState, utcnow

from .context import SERVICES
from .pages import render

TOKEN = r"{token:[A-Za-z0-9_-]{1,64}}"


async def view(request: web.Request) -> FamilyView | None:
    services = request.app[SERVICES]
    async with services.sessions() as session:
        await session.connection(execution_options=READ_ONLY)
        return await family_view(session, request.match_info["token"], utcnow())


def language(request: web.Request, link_language: str | None, default: str) -> str:
    """The switcher's choice, then the language the link was made in, then the browser's."""
    asked = request.query.get("lang", "")
    if asked in LOCALES:
        return asked
    if link_language in LOCALES:
        return link_language
    return negotiate_locale(request.headers.get("Accept-Language"), default)


async def page(request: web.Request) -> web.Response:
    settings = request.app[SERVICES].settings
    found = await view(request)
    if found is None:
        t = translator(language(request, None, settings.default_locale), settings.timezone)
        response = render(request, "link_not_valid.html", t)
        response.set_status(404)
        return response
    t = translator(
        language(request, found.locale, settings.default_locale), found.meeting.time_zone
    )
    meeting = found.meeting
    return render(
        request,
        "family.html",
        t,
        meeting=meeting,
        scheduled=meeting.state == MeetingState.SCHEDULED,
        cancelled=meeting.state == MeetingState.CANCELLED,
        title=settings.invitation_title or t.gettext("Meeting"),
        calendar_url=f"/f/{request.match_info['token']}/kerralla.ics",
    )


async def calendar_file(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    found = await view(request)
    if found is None or found.meeting.starts_at is None:
        raise web.HTTPNotFound()
    t = services.translator(found.locale)
    file = for_participant(found.meeting, found.seat, t, services.settings, utcnow())
    if file is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=file.content,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"/f/{TOKEN}", page)
    app.router.add_get(f"/f/{TOKEN}/kerralla.ics", calendar_file)
