"""One module per conversation; `install` adds them all to the Application in order."""

from __future__ import annotations

import warnings

from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from .. import gate
from . import (
    answers,
    calendar,
    convene,
    family,
    family_rights,
    feedback,
    general,
    language,
    manage,
    onboarding,
    own_data,
    plan,
)

# Conversations here are per person (per chat and user), buttons included, on purpose.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)


def install(application: Application) -> None:
    gate.install(application)  # every command and button is checked first
    onboarding.install(application)
    convene.install(application)
    calendar.install(application)
    answers.install(application)
    family.install(application)
    manage.install(application)
    plan.install(application)
    feedback.install(application)
    family_rights.install(application)
    own_data.install(application)
    language.install(application)
    # The catch-alls come last.
    general.install(application)
