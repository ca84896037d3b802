"""The bot's commands: Finnish names with Swedish and English aliases, each described in
each language."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand

from scheduling.i18n import LOCALES, N_, translator


@dataclass(frozen=True)
class Command:
    finnish: str
    swedish: str
    english: str
    description: str  # translated when registered

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.finnish, self.swedish, self.english)

    def name_for(self, locale: str) -> str:
        """Each reader sees the name in their language (English for any other); every name
        works for everyone."""
        return {"fi": self.finnish, "sv": self.swedish}.get(locale, self.english)

    def other_for(self, locale: str) -> str:
        """The name shown beside one's own in the help: English, or Finnish to English readers."""
        return self.finnish if self.name_for(locale) == self.english else self.english

    def slash(self, locale: str) -> str:
        return f"/{self.name_for(locale)}"


NEW = Command("uusi", "ny", "new", N_("Convene a new meeting"))
CALENDAR = Command("kalenteri", "kalender", "calendar", N_("Your calendar, for finding free times"))
MEETINGS = Command("tapaamiset", "moten", "meetings", N_("Your meetings"))
LANGUAGE = Command("kieli", "sprak", "language", N_("Change the language"))
HELP = Command("apua", "hjalp", "help", N_("What Kerralla does and how to use it"))
CANCEL = Command("peru", "avbryt", "cancel", N_("Stop what you are doing"))
MYDATA = Command("omat_tiedot", "mina_uppgifter", "mydata", N_("What Kerralla holds about you"))

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
