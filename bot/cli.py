"""`kerralla run | migrate | worker | generate-key | demo`: the command line of Kerralla."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from scheduling.config import load_settings
from scheduling.errors import StartupError, describe

from . import admin_commands, logs
from .cli_support import CommandError, prepare_database, secrets

# The database, Alembic and the bot are imported where they are used, so that `--help` and a
# bad setting answer at once.

DEMO_HINT = "To try Kerralla without Telegram, run the offline demo: make demo."


def command_migrate(_args: argparse.Namespace) -> int:
    settings = load_settings()
    logs.configure(settings.log_level, secrets(settings), settings.log_format)
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
    logs.configure(settings.log_level, secrets(settings), settings.log_format)
    from .app import run

    async def main() -> None:
        await prepare_database(settings)
        await run(settings)

    asyncio.run(main())
    return 0


def command_worker(_args: argparse.Namespace) -> int:
    settings = load_settings()
    logs.configure(settings.log_level, secrets(settings), settings.log_format)
    from .app import run_worker

    async def main() -> None:
        await prepare_database(settings)
        await run_worker(settings)

    asyncio.run(main())
    return 0


def command_generate_key(_args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))
    return 0


def command_demo(args: argparse.Namespace) -> int:
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kerralla-demo-"))
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CommandError(f"{folder} is not an empty folder: give --out a new or empty one.")
    folder.mkdir(parents=True, exist_ok=True)
    # Everything the demo talks to is on this machine: never through a proxy.
    for name in ("NO_PROXY", "no_proxy"):
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"]))
    logs.configure("WARNING")
    from .demo.run import run as run_demo

    run_demo(args.lang, folder.resolve(), sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerralla",
        description="Kerralla convenes multi-agency network meetings in child and family "
        "services: a Telegram bot, a web page for families, and a scheduler.",
        epilog="Settings come from the environment and from .env; see .env.example.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    add("run", command_run, "migrate the database, then run the bot and the web server")
    add("migrate", command_migrate, "bring the database to this version's schema")
    add("worker", command_worker, "run only the timed jobs (reminders, deadlines, clean-up)")
    add("generate-key", command_generate_key, "print a new DATA_KEY for encrypting data at rest")
    demo = add(
        "demo",
        command_demo,
        "play a whole meeting offline, without a Telegram token: a fake Telegram and mail "
        "server on this computer, the real bot",
    )
    demo.add_argument(
        "--lang", choices=["fi", "sv", "en"], default="fi", help="the people's language (fi)"
    )
    demo.add_argument(
        "--out", metavar="DIR", help="where to write the emails and calendar files (a new folder)"
    )

    admin_commands.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StartupError as exc:
        print(f"kerralla: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # no traceback: its message may hold personal data
        print(f"kerralla: stopped by an unexpected error: {describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
