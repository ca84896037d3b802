"""What the command line's commands share: one-line errors, the database made ready, and the
secrets the logs must never show."""

from __future__ import annotations

from scheduling.config import Settings
from scheduling.errors import StartupError


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
    from scheduling.db import create_engine, one_process_at_a_time, session_factory, transaction

    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await one_process_at_a_time(session)  # several processes may start at once
            await ensure_defaults(session)
    finally:
        await engine.dispose()


def secrets(settings: Settings) -> list[str]:
    values = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.smtp_password,
        settings.data_key,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    if settings.telegram_bot_token is not None:
        # The part of a bot token after the colon is the secret part.
        found.append(settings.telegram_bot_token.get_secret_value().split(":", 1)[1])
    if settings.database.password:
        found.append(settings.database.password)
    return found
