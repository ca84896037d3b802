"""The bot's commands: Finnish names with English aliases, described in each language."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand

from scheduling.i18n import LOCALES, N_, translator


@dataclass(frozen=True)
class Command:
    finnish: str
    english: str
    description: str  # translated when registered

    @property
    def names(self) -> tuple[str, str]:
        return (self.finnish, self.english)

    def name_for(self, locale: str) -> str:
        """Finnish speakers see the Finnish name; others the English alias. Both work for all."""
        return self.finnish if locale == "fi" else self.english

    def slash(self, locale: str) -> str:
        return f"/{self.name_for(locale)}"


NEW = Command("uusi", "new", N_("Convene a new meeting"))
CALENDAR = Command("kalenteri", "calendar", N_("Your calendar, for finding free times"))
MEETINGS = Command("tapaamiset", "meetings", N_("Your meetings"))
LANGUAGE = Command("kieli", "language", N_("Change the language"))
HELP = Command("apua", "help", N_("What Kerralla does and how to use it"))
CANCEL = Command("peru", "cancel", N_("Stop what you are doing"))
MYDATA = Command("omat_tiedot", "mydata", N_("What Kerralla holds about you"))

MENU = (NEW, MEETINGS, CALENDAR, MYDATA, LANGUAGE, HELP, CANCEL)


def menu_for(locale: str) -> list[BotCommand]:
    t = translator(locale)
    return [
        BotCommand(command.name_for(locale), t.gettext(command.description)) for command in MENU
    ]


async def register_commands(bot: Bot, default_locale: str) -> None:
    """setMyCommands for each language, and for everyone else in the default language."""
    for locale in LOCALES:
        await bot.set_my_commands(menu_for(locale), language_code=locale)
    await bot.set_my_commands(menu_for(default_locale))
