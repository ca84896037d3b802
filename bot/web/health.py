"""`GET /healthz`: the database, the workers and the backlogs, as JSON.

200 with `"status": "ok"`, or 503 with `"status": "failing"` and the `problems` when the database
does not answer (in `DATABASE_TIMEOUT` seconds), a worker has not been heard of for
HEALTH_WORKER_SILENT_SECONDS, or a due message or job has waited HEALTH_STUCK_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from scheduling import health
from scheduling.db import READ_ONLY
from scheduling.errors import describe

from .context import SERVICES

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    settings = services.settings
    now = services.now()
    expected = ["delivery", "jobs"] + (["email"] if settings.smtp_host else [])
    thresholds = health.Thresholds(
        stuck_after=timedelta(seconds=settings.health_stuck_seconds),
        worker_silent=timedelta(seconds=settings.health_worker_silent_seconds),
    )

    async def read() -> dict[str, Any]:
        async with services.sessions() as session:
            await session.connection(execution_options=READ_ONLY)
            return await health.report(
                session, now, expected_workers=expected, thresholds=thresholds
            )

    try:
        report = await asyncio.wait_for(read(), DATABASE_TIMEOUT)
    except Exception as exc:  # any failure to reach the database is what this reports
        log.warning("health check: the database did not answer: %s", describe(exc))
        problems = ["database unreachable"]
        body = {"status": "failing", "problems": problems, "database": "unreachable"}
        return web.json_response(body, status=503)
    status = "failing" if report["problems"] else "ok"
    body = {"status": status, "problems": report.pop("problems"), "database": "ok", **report}
    return web.json_response(body, status=503 if status == "failing" else 200)
