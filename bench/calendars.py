"""Reading a published calendar: how long `read_ics` takes for a 5 MiB feed of 16,000 events
(seven years of an Outlook calendar in its Windows-named zone, 4 % weekly series) over a 6-week
window, beside its anchor in the same run: the same feed and window through plain
`icalendar.Calendar.from_ical` and `recurring_ical_events`, as Kerralla read feeds before.

Figures are CPU time of the reading thread (one core; the machine is shared, so wall-clock
time says more about the neighbours) and, for Kerralla, wall-clock time too. The anchor runs in
a fresh process: icalendar keeps the time zones it has read for the whole process.

`.venv/bin/python -m bench.calendars` prints a table; `run()` gives the figures to bench/__main__.
"""

from __future__ import annotations

import gc
import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import icalendar
import recurring_ical_events

from scheduling.calendars import MAX_BODY_BYTES, read_ics
from tests.calendar_servers import big_feed

ZONE = "Europe/Helsinki"
WINDOW_START = datetime(2026, 12, 7, 6, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(weeks=6)
ROUNDS = 5


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this thread, wall-clock seconds) of one `work()`."""
    gc.collect()
    cpu, wall = time.thread_time(), time.perf_counter()
    work()
    return time.thread_time() - cpu, time.perf_counter() - wall


def plain_icalendar() -> tuple[float, float]:
    """The anchor, in its own process: the whole feed parsed and expanded by the libraries."""
    feed = big_feed()
    span = (WINDOW_START - timedelta(days=2), WINDOW_END + timedelta(days=2))

    def work() -> None:
        calendar = icalendar.Calendar.from_ical(feed)
        recurring_ical_events.of(calendar, components=("VEVENT",)).between(*span)

    return timed(work)


def run() -> dict[str, dict[str, float | str]]:
    feed = big_feed()
    assert len(feed) <= MAX_BODY_BYTES
    reading = read_ics(feed, WINDOW_START, WINDOW_END, ZONE)
    assert reading.busy and not reading.skipped
    figures = [timed(lambda: read_ics(feed, WINDOW_START, WINDOW_END, ZONE)) for _ in range(ROUNDS)]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        anchor_cpu, _ = pool.submit(plain_icalendar).result()

    def ms(seconds: float) -> dict[str, float | str]:
        return {"value": round(seconds * 1000, 1), "unit": "ms"}

    return {
        "calendar_feed_5mib_read_cpu_ms": ms(statistics.median(f[0] for f in figures)),
        "calendar_feed_5mib_read_wall_ms": ms(statistics.median(f[1] for f in figures)),
        "calendar_feed_5mib_plain_icalendar_cpu_ms": ms(anchor_cpu),
    }


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:44} {figure['value']:>10}  {figure['unit']}")
