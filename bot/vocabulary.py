"""Names of the domain's fixed vocabularies in the reader's language."""

from __future__ import annotations

from scheduling.i18n import N_, Translator
from scheduling.models import Sector

SECTOR_NAMES = {
    Sector.SCHOOL: N_("school"),
    Sector.EARLY_EDUCATION: N_("early childhood education"),
    Sector.CHILD_PROTECTION: N_("child protection"),
    Sector.FAMILY_CENTRE: N_("family centre"),
    Sector.HEALTH: N_("health care"),
    Sector.OTHER: N_("other"),
}


def sector_name(t: Translator, sector: Sector) -> str:
    return t.gettext(SECTOR_NAMES[sector])


# The family's feedback after the meeting: "Did you have to tell your story again?"
FEEDBACK_CHOICES = {
    "no": N_("No"),
    "partly": N_("Partly"),
    "yes": N_("Yes"),
}
