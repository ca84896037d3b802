"""`kerralla run | migrate | generate-key`: the command line of Kerralla."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from scheduling.config import Settings, load_settings
from scheduling.errors import StartupError

from . import logs

# The database, Alembic and the bot are imported where they are used, so that `--help` and a
# bad setting answer at once.

DEMO_HINT = "To try Kerralla without Telegram, run the offline demo: make demo."


class CommandError(StartupError):
    """Ends a command with one line on stderr and a non-zero exit code."""


async def prepare_database(settings: Settings) -> None:
    """Reach the database and bring it to this version's schema, or leave nothing behind."""
    from scheduling import schema
    from scheduling.db import check_reachable, prepare_sqlite_folder, remove_created

    created = prepare_sqlite_folder(settings.database_url)
    try:
        await check_reachable(settings.database_url)
        await schema.upgrade(settings.database_url)
    except BaseException:
        remove_created(created)
        raise
    await load_shipped_defaults(settings)


async def load_shipped_defaults(settings: Settings) -> None:
    """The shipped meeting types and question sets, on the very first start only."""
    from scheduling.catalog_data import ensure_defaults
    from scheduling.db import create_engine, session_factory, transaction

    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await ensure_defaults(session)
    finally:
        await engine.dispose()


def secrets(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.smtp_password, settings.data_key]
    found = [v.get_secret_value() for v in values if v is not None]
    if settings.telegram_bot_token is not None:
        # The part of a bot token after the colon is the secret part.
        found.append(settings.telegram_bot_token.get_secret_value().split(":", 1)[1])
    if settings.database.password:
        found.append(settings.database.password)
    return found


def command_migrate(_args: argparse.Namespace) -> int:
    settings = load_settings()
    logs.configure(settings.log_level, secrets(settings))
    asyncio.run(prepare_database(settings))
    from scheduling import schema

    print(f"The database is up to date (revision {schema.head_revision()}).")
    return 0


def command_run(_args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.telegram_bot_token is None:
        raise CommandError(
            "TELEGRAM_BOT_TOKEN is not set: ask @BotFather for a token and set it in the "
            f"environment or in .env (see .env.example). {DEMO_HINT}"
        )
    if settings.data_key is None:
        raise CommandError(
            "DATA_KEY is not set: it encrypts the family's answers. Create one with "
            "`.venv/bin/kerralla generate-key` and set DATA_KEY in the environment or in .env."
        )
    logs.configure(settings.log_level, secrets(settings))
    from .app import run

    async def main() -> None:
        await prepare_database(settings)
        await run(settings)

    asyncio.run(main())
    return 0


def command_worker(_args: argparse.Namespace) -> int:
    settings = load_settings()
    logs.configure(settings.log_level, secrets(settings))
    from .app import run_worker

    async def main() -> None:
        await prepare_database(settings)
        await run_worker(settings)

    asyncio.run(main())
    return 0


def admin_settings() -> Settings:
    settings = load_settings()
    logs.configure("WARNING", secrets(settings))
    return settings


async def bot_username(settings: Settings) -> str:
    """The bot's @name, for t.me links: asked from the Bot API (getMe)."""
    from telegram import Bot
    from telegram.error import TelegramError

    if settings.telegram_bot_token is None:
        raise CommandError("TELEGRAM_BOT_TOKEN is not set: it is needed to make a t.me link")
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{settings.telegram_api_url}/bot",
    )
    try:
        async with bot:
            return bot.username
    except TelegramError as exc:
        raise CommandError(
            f"cannot ask the Bot API at {settings.telegram_api_url} for the bot's name "
            f"({exc.message}): check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL"
        ) from None


def command_invite_professional(args: argparse.Namespace) -> int:
    settings = admin_settings()
    from scheduling.db import create_engine, session_factory, transaction
    from scheduling.i18n import translator
    from scheduling.models import utcnow
    from scheduling.professionals import invite_professional

    async def main() -> list[str]:
        await prepare_database(settings)
        username = await bot_username(settings)
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                invitation = await invite_professional(
                    session,
                    organisation=args.org,
                    sector=args.sector,
                    title=args.title,
                    email=args.email,
                    name=args.name,
                    now=utcnow(),
                    days=args.days,
                )
        finally:
            await engine.dispose()
        until = translator(settings.default_locale, settings.timezone).datetime(
            invitation.expires_at
        )
        return [
            f"Invitation for professional {invitation.professional_id} ({args.org}, {args.title}):",
            f"https://t.me/{username}?start={invitation.token}",
            f"Valid until {until} ({settings.timezone}); it works once. Give it to that "
            "person only.",
        ]

    print("\n".join(asyncio.run(main())))
    return 0


def command_list_professionals(_args: argparse.Namespace) -> int:
    settings = admin_settings()
    from scheduling.db import READ_ONLY, create_engine, session_factory
    from scheduling.professionals import professionals

    async def main() -> list[str]:
        await prepare_database(settings)
        engine = create_engine(settings.database_url, execution_options=READ_ONLY)
        try:
            async with session_factory(engine)() as session:
                rows = await professionals(session)
                return [
                    f"{p.id:>5}  {p.state.value:9} {p.organisation.slug:24} {p.sector.value:17} "
                    f"{p.title:20} {p.display_name or '-'}"
                    for p in rows
                ] or ["No professionals yet: invite one with kerralla admin invite-professional."]
        finally:
            await engine.dispose()

    print("\n".join(asyncio.run(main())))
    return 0


def command_revoke(args: argparse.Namespace) -> int:
    settings = admin_settings()
    from scheduling.db import create_engine, session_factory, transaction
    from scheduling.models import utcnow
    from scheduling.professionals import revoke

    async def main() -> str:
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                professional = await revoke(session, args.professional_id, utcnow())
                return (
                    f"Professional {professional.id} ({professional.display_name or '-'}) can no "
                    "longer convene or see meetings; their open links no longer work."
                )
        finally:
            await engine.dispose()

    print(asyncio.run(main()))
    return 0


def command_load(args: argparse.Namespace) -> int:
    settings = admin_settings()
    from scheduling.catalog_data import CatalogError, load_catalog, read_catalog_file
    from scheduling.db import create_engine, session_factory, transaction

    async def main() -> list[str]:
        try:
            data = read_catalog_file(args.file)
        except CatalogError as exc:
            raise CommandError(str(exc)) from None
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                report = await load_catalog(session, data)
        except CatalogError as exc:
            raise CommandError(f"{args.file}: {exc}; nothing was changed") from None
        finally:
            await engine.dispose()
        return [f"Loaded {args.file}:", *report.lines()]

    print("\n".join(asyncio.run(main())))
    return 0


def command_set_caldav(args: argparse.Namespace) -> int:
    import getpass
    import os

    settings = admin_settings()
    from scheduling.db import create_engine, session_factory, transaction
    from scheduling.errors import InvalidInput
    from scheduling.i18n import translator
    from scheduling.models import Professional
    from scheduling.people import set_caldav

    password = None
    if args.url and args.username:
        password = os.environ.get("KERRALLA_CALDAV_PASSWORD") or getpass.getpass(
            "CalDAV password (not shown): "
        )

    async def main() -> str:
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                professional = await session.get(Professional, args.professional_id)
                if professional is None:
                    raise CommandError(f"there is no professional {args.professional_id}")
                await set_caldav(session, professional, args.url, args.username, password, settings)
        except InvalidInput as exc:
            raise CommandError(exc.render(translator("en"))) from None
        finally:
            await engine.dispose()
        if args.url is None:
            return f"Professional {args.professional_id} no longer has a CalDAV account."
        return f"Professional {args.professional_id} now has a CalDAV account at {args.url}."

    print(asyncio.run(main()))
    return 0


def command_admin_jobs(args: argparse.Namespace) -> int:
    settings = load_settings()
    logs.configure("WARNING", secrets(settings))
    from scheduling.admin import job_lines

    for line in asyncio.run(job_lines(settings.database_url, failed_only=not args.all)):
        print(line)
    return 0


def command_generate_key(_args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerralla",
        description="Kerralla convenes multi-agency network meetings in child and family "
        "services: a Telegram bot, a web page for families, and a scheduler.",
        epilog="Settings come from the environment and from .env; see .env.example.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> None:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)

    add("run", command_run, "migrate the database, then run the bot and the web server")
    add("migrate", command_migrate, "bring the database to this version's schema")
    add("worker", command_worker, "run only the timed jobs (reminders, deadlines, clean-up)")
    add("generate-key", command_generate_key, "print a new DATA_KEY for encrypting data at rest")

    admin = commands.add_parser(
        "admin", help="administration: professionals, data, jobs", description="Administration."
    )
    admin_commands = admin.add_subparsers(title="admin commands", metavar="COMMAND", required=True)
    jobs = admin_commands.add_parser(
        "jobs",
        help="list timed jobs that failed for good (--all: every job not yet done)",
        description="List timed jobs that failed for good, newest first.",
    )
    jobs.add_argument("--all", action="store_true", help="list pending jobs too")
    jobs.set_defaults(func=command_admin_jobs)

    invite = admin_commands.add_parser(
        "invite-professional",
        help="make a one-time t.me link that registers a professional",
        description="Make a one-time Telegram link: whoever opens it becomes this professional.",
    )
    invite.add_argument("--org", required=True, help="the organisation's slug")
    invite.add_argument(
        "--sector",
        required=True,
        help="school, early_education, child_protection, family_centre, health or other",
    )
    invite.add_argument("--title", required=True, help="e.g. erityisopettaja")
    invite.add_argument("--email", help="for calendar invitations by email")
    invite.add_argument("--name", help="the name the circle sees (default: from Telegram)")
    invite.add_argument("--days", type=int, default=14, help="days the link works (default 14)")
    invite.set_defaults(func=command_invite_professional)

    loading = admin_commands.add_parser(
        "load",
        help="load or update organisations, meeting types and question sets (TOML)",
        description="Load organisations, meeting types and question sets from a TOML file "
        "(see examples/organisations.toml and scheduling/data/defaults.toml); items are "
        "matched by key and updated in place. Nothing is changed if the file has an error.",
    )
    loading.add_argument("file", help="the TOML file")
    loading.set_defaults(func=command_load)

    caldav = admin_commands.add_parser(
        "set-caldav",
        help="give a professional's CalDAV account, for their busy times",
        description="Kerralla reads the account's busy times when it proposes meeting times. "
        "The password is read from KERRALLA_CALDAV_PASSWORD or asked for, and kept encrypted. "
        "Without --url the account is removed.",
    )
    caldav.add_argument("professional_id", type=int)
    caldav.add_argument("--url", help="the CalDAV server or calendar address (https://…)")
    caldav.add_argument("--username", help="the account's user name")
    caldav.set_defaults(func=command_set_caldav)

    listing = admin_commands.add_parser("list-professionals", help="list every professional")
    listing.set_defaults(func=command_list_professionals)

    revoking = admin_commands.add_parser(
        "revoke", help="stop a professional from convening or seeing meetings"
    )
    revoking.add_argument("professional_id", type=int)
    revoking.set_defaults(func=command_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StartupError as exc:
        print(f"kerralla: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
