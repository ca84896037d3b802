"""The short-lived view of the family's answers for one professional the family chose.

Every view is audited; the link stops working when the meeting ends; nothing is cached.
"""

from __future__ import annotations

from aiohttp import web

from scheduling import meetings, summaries
from scheduling.db import transaction
from scheduling.i18n import translator
from scheduling.models import AccessChannel, TelegramUser

from ..messages import numbered_family_name
from .context import SERVICES
from .family import language, not_valid
from .pages import render


async def summary_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    now = services.now()
    async with transaction(services.sessions) as session:
        reader = await summaries.reader_of(session, request.match_info["token"], now)
        meeting = await meetings.load(session, reader.meeting_id) if reader else None
        seat = (
            next((p for p in meeting.participants if p.id == reader.id), None) if meeting else None
        )
        if seat is None or seat.professional is None:
            return not_valid(request)
        person = await session.get(TelegramUser, seat.professional.telegram_user_id or 0)
        locale = language(
            request, person.locale if person else None, services.settings.default_locale
        )
        t = translator(locale, meeting.time_zone)
        families = await summaries.summary(
            session, meeting, seat, t.locale, services.settings, now, AccessChannel.WEB
        )
    response = render(
        request,
        "summary.html",
        t,
        meeting=meeting,
        families=families,
        family_name=lambda family: numbered_family_name(t, family.member, family.number),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get(r"/s/{token:[A-Za-z0-9_-]{1,64}}", summary_page)
