"""Setting the stage for `kerralla demo`: the fake Telegram, the mail server, a temporary
database, the real bot with its web server and workers; then the play, then the folder."""

from __future__ import annotations

import asyncio
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from cryptography.fernet import Fernet

from scheduling.config import Settings, load_settings
from scheduling.i18n import Translator, translator
from scheduling.mail_delivery import MailDelivery

from ..app import build_application, build_services, start_web
from ..cli_support import prepare_database
from ..commands import register_commands
from ..delivery import Delivery
from ..rate_limit import no_limits
from .mailbox import Mailbox, free_port
from .player import Player, StageClock
from .scenario import EMAIL_DOMAIN, Scenario, names
from .transcript import Numbering, ObservedBotAPI, Transcript

# Only the fake Bot API on this machine ever sees it.
TOKEN = "123456789:offline-demo-token-of-kerralla"
BOT_USERNAME = "kerralla_demo_bot"


def demo_settings(api_url: str, database: Path, smtp_port: int, lang: str) -> Settings:
    """From these values only, never from .env: no token, database or mail server of a real
    deployment is ever touched."""
    return load_settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        telegram_api_url=api_url,
        telegram_webhook_secret=None,
        database_url=f"sqlite+aiosqlite:///{database}",
        public_base_url=None,
        web_host="127.0.0.1",
        web_port=free_port(),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_user=None,
        smtp_password=None,
        smtp_starttls=False,
        smtp_from=f"kerralla@{EMAIL_DOMAIN}",
        smtp_reply_to=None,
        invitation_title=None,
        data_key=Fernet.generate_key().decode("ascii"),
        timezone="Europe/Helsinki",
        default_locale=lang,
    )


async def play(lang: str, folder: Path, out: TextIO) -> list[Path]:
    """Play the meeting, printing it to `out`; the files written into `folder`."""
    t = translator(lang)
    numbering = Numbering()
    intro(t, out)
    with (
        tempfile.TemporaryDirectory(prefix="kerralla-demo-db-") as work,
        Mailbox(folder, numbering) as mailbox,
    ):
        async with ObservedBotAPI(TOKEN, BOT_USERNAME) as api:
            settings = demo_settings(api.url, Path(work) / "kerralla.db", mailbox.port, lang)
            await prepare_database(settings)
            clock = StageClock()  # the play's one clock: handlers, pages and workers
            services = build_services(settings, clock)
            application = build_application(services, rate_limiter=no_limits())
            web = await start_web(services)
            transcript = Transcript(api, names(t), folder, numbering, out)
            transcript.mailbox = mailbox
            stop = asyncio.Event()
            sending: asyncio.Future[list[None]] | None = None
            try:
                await application.initialize()
                await register_commands(application.bot, settings.default_locale)
                await application.start()
                assert application.updater is not None
                await application.updater.start_polling(poll_interval=0, timeout=1)
                workers = [
                    Delivery(services, application.bot, idle_seconds=0.2),
                    MailDelivery(services.sessions, settings, idle_seconds=0.2, clock=clock),
                ]
                sending = asyncio.gather(
                    *(worker.run_until(stop, services.outbox_wake) for worker in workers)
                )
                await Scenario(Player(api, transcript, services, clock), t).play()
            finally:
                with suppress(Exception):  # what happened so far, also when something failed
                    transcript.flush()
                stop.set()
                if sending is not None:
                    await sending
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                if application.running:
                    await application.stop()
                await application.shutdown()
                await web.cleanup()
                await services.engine.dispose()
    return transcript.files


def intro(t: Translator, out: TextIO) -> None:
    for line in (
        t.gettext(
            "Kerralla demo: a whole Sisukas meeting, from convening to the family's feedback."
        ),
        t.gettext(
            "Telegram and the mail server are played by fakes on this computer; the bot, its "
            "database and its workers are the real ones. Nothing leaves this computer."
        ),
        t.gettext(
            "Each line shows whose screen it appears on: [who] → what they write or press; "
            "✎ an edited message, 💬 a notice after a press, 📎 a file, ✉ an email."
        ),
    ):
        print(line, file=out)


def run(lang: str, folder: Path, out: TextIO) -> None:
    t = translator(lang)
    started = time.monotonic()
    files = asyncio.run(play(lang, folder, out))
    print("", file=out)
    print(
        t.gettext(
            "Done in {seconds} s. The emails (.eml) and calendar files (.ics) are in {folder}:",
            seconds=f"{time.monotonic() - started:.1f}",
            folder=folder,
        ),
        file=out,
    )
    for path in sorted(files):
        print(f"  {path.name}", file=out)
