"""Messages about access: a request to the administrators, and their answer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from scheduling.i18n import Translator
from scheduling.models import Organisation, OutboxMessage, Professional, ProfessionalState

from ..commands import NEW
from ..vocabulary import sector_name
from . import RenderContext, Rendered, renders


@renders("access_requested")
async def access_requested(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    professional = await session.get(Professional, row.payload.get("professional_id"))
    if professional is None or professional.state != ProfessionalState.PENDING:
        return None
    organisation = await session.get(Organisation, professional.organisation_id)
    return Rendered(
        t.gettext(
            "{name} asks for access as a professional: {title}, {organisation} ({sector}).",
            name=professional.display_name,
            title=professional.title,
            organisation=organisation.name if organisation else "?",
            sector=sector_name(t, professional.sector),
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Approve"), callback_data=f"decide:yes:{professional.id}"
                    ),
                    InlineKeyboardButton(
                        t.gettext("Turn down"), callback_data=f"decide:no:{professional.id}"
                    ),
                ]
            ]
        ),
    )


@renders("access_approved")
async def access_approved(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    return Rendered(
        t.gettext(
            "Your access has been approved. Convene a meeting with {new}.", new=NEW.slash(t.locale)
        )
    )


@renders("access_declined")
async def access_declined(
    session: AsyncSession, t: Translator, row: OutboxMessage, ctx: RenderContext
) -> Rendered | None:
    return Rendered(
        t.gettext(
            "Your request for access was turned down. If you think this is a mistake, contact "
            "your administrator."
        )
    )
