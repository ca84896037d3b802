"""One module per conversation; `install` adds them all to the Application in order."""

from __future__ import annotations

from telegram.ext import Application

from . import general, language


def install(application: Application) -> None:
    language.install(application)
    # The catch-alls come last.
    general.install(application)
