"""Exit 0 when the tests' PostgreSQL server answers: `python -m tests.postgres_available`."""

from __future__ import annotations

import asyncio
import os
import sys

from scheduling.db import DatabaseUnavailable, check_reachable

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("KERRALLA_TEST_POSTGRES_URL", DEFAULT_URL)


def main() -> int:
    try:
        asyncio.run(check_reachable(postgres_url(), timeout=5))
    except DatabaseUnavailable:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
