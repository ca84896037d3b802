"""The migrations make exactly the models, and go down to nothing and up again."""

from __future__ import annotations

from sqlalchemy import inspect

from scheduling import schema
from scheduling.db import create_engine
from scheduling.models import Base


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_produce_the_models_and_go_down_and_up(empty_database_url: str) -> None:
    url = empty_database_url
    # Before: nothing, and autogenerate sees every table missing.
    assert await schema.current_revision(url) is None
    assert len(await schema.differences(url)) >= len(Base.metadata.tables)

    await schema.upgrade(url)
    assert await schema.current_revision(url) == schema.head_revision()
    assert await schema.differences(url) == []
    assert set(Base.metadata.tables) <= await table_names(url)

    await schema.downgrade(url, "base")
    assert await schema.current_revision(url) is None
    assert await table_names(url) <= {"alembic_version"}

    await schema.upgrade(url)
    assert await schema.differences(url) == []


async def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    await schema.upgrade(empty_database_url)
    await schema.upgrade(empty_database_url)
    assert await schema.current_revision(empty_database_url) == schema.head_revision()
