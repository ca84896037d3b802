"""`kerralla admin …`: what an administrator does on the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from scheduling.config import Settings, load_settings

from . import logs
from .cli_support import CommandError, prepare_database, secrets

T = TypeVar("T")


def settings() -> Settings:
    loaded = load_settings()
    logs.configure("WARNING", secrets(loaded), loaded.log_format)
    return loaded


def in_transaction(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `action` in one transaction on an up-to-date database; print nothing itself."""
    from scheduling.db import create_engine, session_factory, transaction

    current = settings()

    async def main() -> T:
        await prepare_database(current)
        engine = create_engine(current.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await action(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def bot_username(current: Settings) -> str:
    """The bot's @name, for t.me links: asked from the Bot API (getMe)."""
    from telegram import Bot
    from telegram.error import TelegramError

    if current.telegram_bot_token is None:
        raise CommandError("TELEGRAM_BOT_TOKEN is not set: it is needed to make a t.me link")
    bot = Bot(
        current.telegram_bot_token.get_secret_value(), base_url=f"{current.telegram_api_url}/bot"
    )
    try:
        async with bot:
            return bot.username
    except TelegramError as exc:
        raise CommandError(
            f"cannot ask the Bot API at {current.telegram_api_url} for the bot's name "
            f"({exc.message}): check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL"
        ) from None


def invite_professional(args: argparse.Namespace) -> int:
    from scheduling.i18n import translator
    from scheduling.models import utcnow
    from scheduling.professionals import invite_professional

    current = settings()
    username = asyncio.run(bot_username(current))

    async def invite(session: AsyncSession):  # type: ignore[no-untyped-def]
        return await invite_professional(
            session,
            organisation=args.org,
            sector=args.sector,
            title=args.title,
            email=args.email,
            name=args.name,
            now=utcnow(),
            days=args.days,
        )

    invitation = in_transaction(invite)
    until = translator(current.default_locale, current.timezone).datetime(invitation.expires_at)
    print(f"Invitation for professional {invitation.professional_id} ({args.org}, {args.title}):")
    print(f"https://t.me/{username}?start={invitation.token}")
    print(f"Valid until {until} ({current.timezone}); it works once. Give it to that person only.")
    return 0


def list_professionals(_args: argparse.Namespace) -> int:
    from scheduling.professionals import professionals

    async def listing(session: AsyncSession) -> list[str]:
        return [
            f"{p.id:>5}  {p.state.value:9} {p.organisation.slug:24} {p.sector.value:17} "
            f"{p.title:20} {p.display_name or '-'}"
            for p in await professionals(session)
        ]

    lines = in_transaction(listing)
    print(
        "\n".join(lines)
        or "No professionals yet: invite one with kerralla admin invite-professional."
    )
    return 0


def revoke(args: argparse.Namespace) -> int:
    from scheduling.models import utcnow
    from scheduling.professionals import revoke

    async def revoking(session: AsyncSession) -> str:
        professional = await revoke(session, args.professional_id, utcnow())
        return professional.display_name or "-"

    name = in_transaction(revoking)
    print(
        f"Professional {args.professional_id} ({name}) can no longer convene or see meetings; "
        "their open links no longer work."
    )
    return 0


def load(args: argparse.Namespace) -> int:
    from scheduling.catalog_data import CatalogError, load_catalog, read_catalog_file

    try:
        data = read_catalog_file(args.file)
    except CatalogError as exc:
        raise CommandError(str(exc)) from None

    async def loading(session: AsyncSession) -> list[str]:
        try:
            return (await load_catalog(session, data)).lines()
        except CatalogError as exc:
            raise CommandError(f"{args.file}: {exc}; nothing was changed") from None

    print("\n".join([f"Loaded {args.file}:", *in_transaction(loading)]))
    return 0


def set_caldav(args: argparse.Namespace) -> int:
    from scheduling.errors import InvalidInput
    from scheduling.i18n import translator
    from scheduling.models import Professional
    from scheduling.people import set_caldav

    current = settings()
    password = None
    if args.url and args.username:
        password = os.environ.get("KERRALLA_CALDAV_PASSWORD") or getpass.getpass(
            "CalDAV password (not shown): "
        )

    async def setting(session: AsyncSession) -> None:
        professional = await session.get(Professional, args.professional_id)
        if professional is None:
            raise CommandError(f"there is no professional {args.professional_id}")
        try:
            await set_caldav(session, professional, args.url, args.username, password, current)
        except InvalidInput as exc:
            raise CommandError(exc.render(translator("en"))) from None

    in_transaction(setting)
    if args.url is None:
        print(f"Professional {args.professional_id} no longer has a CalDAV account.")
    else:
        print(f"Professional {args.professional_id} now has a CalDAV account at {args.url}.")
    return 0


def jobs(args: argparse.Namespace) -> int:
    from scheduling.admin import job_lines

    current = settings()
    for line in asyncio.run(job_lines(current.database_url, failed_only=not args.all)):
        print(line)
    return 0


def rotate_key(args: argparse.Namespace) -> int:
    from scheduling.db import create_engine, session_factory
    from scheduling.key_rotation import report, rotate
    from scheduling.models import utcnow

    current = settings()
    if current.data_key is None:
        raise CommandError(
            "DATA_KEY is not set: put the new key first and the old ones after it, "
            "e.g. DATA_KEY=<new>,<old>"
        )
    if args.batch < 1:
        raise CommandError("--batch must be at least 1")

    async def main() -> tuple[list[str], bool]:
        await prepare_database(current)
        engine = create_engine(current.database_url)
        try:
            tallies = await rotate(
                session_factory(engine), current, utcnow(), batch_size=args.batch
            )
        finally:
            await engine.dispose()
        return report(tallies)

    lines, complete = asyncio.run(main())
    print("\n".join(lines))
    if not complete:
        raise CommandError("some sealed values could not be read with any key in DATA_KEY")
    return 0


def show_audit(args: argparse.Namespace) -> int:
    from scheduling import audit
    from scheduling.models import utcnow

    current = settings()

    async def reading(session: AsyncSession) -> list[str]:
        try:
            if args.meeting is not None:
                subject = await audit.meeting(session, args.meeting)
            else:
                subject = await audit.person(session, args.person)
        except audit.UnknownSubject as exc:
            raise CommandError(str(exc)) from None
        rows = await audit.events(session, subject)
        audit.record_reading(session, subject, utcnow())
        return audit.lines(rows, subject, current.zone)

    print("\n".join(in_transaction(reading)))
    return 0


def report(args: argparse.Namespace) -> int:
    """Held meetings per type and month, families who answered beforehand, and the share of
    families who did not have to tell their story again: counts only, never a family."""
    from scheduling.feedback import report as monthly

    rows = in_transaction(monthly)
    if not rows:
        print("No meetings have been held yet.")
        return 0
    print(f"{'type':<20} {'month':<8} {'held':>5} {'answered':>9} {'feedback':>9} {'no':>6}")
    for row in rows:
        share = f"{row.share_no:.0%}" if row.share_no is not None else "–"
        print(
            f"{row.meeting_type:<20} {row.month:<8} {row.held:>5} "
            f"{row.answered_before:>9} {row.feedback:>9} {share:>6}"
        )
    print(
        "answered: meetings where the family sent their answers beforehand; "
        'no: share of feedback "I did not have to tell my story again".'
    )
    return 0


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = commands.add_parser(
        "admin", help="administration: professionals, data, jobs", description="Administration."
    )
    sub = admin.add_subparsers(title="admin commands", metavar="COMMAND", required=True)

    def add(
        name: str,
        func: Callable[[argparse.Namespace], int],
        text: str,
        description: str | None = None,
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text, description=description or text)
        parser.set_defaults(func=func)
        return parser

    parser = add(
        "invite-professional",
        invite_professional,
        "make a one-time t.me link that registers a professional",
        "Make a one-time Telegram link: whoever opens it becomes this professional.",
    )
    parser.add_argument("--org", required=True, help="the organisation's slug")
    parser.add_argument(
        "--sector",
        required=True,
        help="school, early_education, child_protection, family_centre, health or other",
    )
    parser.add_argument("--title", required=True, help="e.g. erityisopettaja")
    parser.add_argument("--email", help="for calendar invitations by email")
    parser.add_argument("--name", help="the name the circle sees (default: from Telegram)")
    parser.add_argument("--days", type=int, default=14, help="days the link works (default 14)")

    add("list-professionals", list_professionals, "list every professional")
    parser = add("revoke", revoke, "stop a professional from convening or seeing meetings")
    parser.add_argument("professional_id", type=int)

    parser = add(
        "load",
        load,
        "load or update organisations, meeting types and question sets (TOML)",
        "Load organisations, meeting types and question sets from a TOML file (see "
        "examples/organisations.toml and scheduling/data/defaults.toml); items are "
        "matched by key and updated in place. Nothing is changed if the file has an "
        "error.",
    )
    parser.add_argument("file", help="the TOML file")

    parser = add(
        "set-caldav",
        set_caldav,
        "give a professional's CalDAV account, for their busy times",
        "Kerralla reads the account's busy times when it proposes meeting times. The "
        "password is read from KERRALLA_CALDAV_PASSWORD or asked for, and kept "
        "encrypted. Without --url the account is removed.",
    )
    parser.add_argument("professional_id", type=int)
    parser.add_argument("--url", help="the CalDAV server or calendar address (https://…)")
    parser.add_argument("--username", help="the account's user name")

    parser = add(
        "jobs",
        jobs,
        "list timed jobs that failed for good (--all: every job not yet done)",
        "List timed jobs that failed for good, newest first.",
    )
    parser.add_argument("--all", action="store_true", help="list pending jobs too")

    parser = add(
        "rotate-key",
        rotate_key,
        "re-encrypt every sealed value under the first key in DATA_KEY",
        "Re-encrypt the family's answers and every other sealed value under the first key "
        "in DATA_KEY (DATA_KEY=<new>,<old>), in small batches while Kerralla keeps running. "
        "Safe to run again or after an interruption. Afterwards remove the old key from "
        "DATA_KEY.",
    )
    parser.add_argument("--batch", type=int, default=200, help="rows per transaction (default 200)")

    parser = add(
        "audit",
        show_audit,
        "print who read or changed what, for a meeting or a person (never content)",
        "Print the audit log for a meeting or a person: when, who, what they did, through "
        "which channel, and what kind of thing, never its content. A person is a "
        "professional or a family member: give ID, or professional:ID or family:ID when "
        "the number is both. Reading the log is logged too.",
    )
    whose = parser.add_mutually_exclusive_group(required=True)
    whose.add_argument("--meeting", type=int, metavar="ID", help="a meeting's id")
    whose.add_argument("--person", metavar="ID", help="a professional's or family member's id")

    add(
        "report",
        report,
        "meetings held, families who answered beforehand, and feedback, per type and month",
        "Per meeting type and month: how many meetings were held, in how many the family "
        'answered beforehand, and the share of "no, I did not have to tell my story again" '
        "in the feedback. Anonymous: no family, person or case appears in it.",
    )
