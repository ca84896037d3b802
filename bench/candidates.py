"""Candidate search: how long `candidate_times` takes for 20 participants with 400 busy
intervals each over a 6-week window, for a 90-minute meeting in Helsinki office hours.

`.venv/bin/python -m bench.candidates` prints a table; `run()` gives the figures to bench/__main__.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from scheduling.slots import Attendee, Interval, SlotRequest, candidate_times

SEED = 20261102
PARTICIPANTS = 20
INTERVALS = 400
WEEKS = 6
REQUIRED = 3
ROUNDS = 20
FIRST_DAY = date(2026, 11, 2)  # a Monday; the window holds no holiday and no clock change
KEY = f"candidate_search_{PARTICIPANTS}x{INTERVALS}_{WEEKS}w_ms"


def build_request(seed: int = SEED) -> SlotRequest:
    """The benchmark case, the same for the same seed: busy intervals of 15 minutes to 2 hours
    starting between 7.00 and 18.00 local time on any day of the window, overlaps allowed."""
    rng = random.Random(seed)
    zone = ZoneInfo("Europe/Helsinki")
    days = WEEKS * 7
    attendees = []
    for number in range(PARTICIPANTS):
        busy = []
        for _ in range(INTERVALS):
            day = FIRST_DAY + timedelta(days=rng.randrange(days))
            minute = rng.randrange(7 * 60, 18 * 60, 5)
            local = datetime.combine(day, clock(minute // 60, minute % 60), zone)
            start = local.astimezone(UTC)
            length = timedelta(minutes=rng.choice((15, 30, 30, 45, 60, 60, 90, 120)))
            busy.append(Interval(start, start + length))
        rng.shuffle(busy)
        attendees.append(
            Attendee(key=f"participant-{number:02}", busy=tuple(busy), required=number < REQUIRED)
        )
    return SlotRequest(
        window_start=FIRST_DAY,
        window_end=FIRST_DAY + timedelta(days=days - 1),
        duration=timedelta(minutes=90),
        attendees=tuple(attendees),
    )


def measure(rounds: int = ROUNDS) -> tuple[list[float], int]:
    """Milliseconds of each of `rounds` calls (after one warm-up), and the candidates found."""
    request = build_request()
    found = len(candidate_times(request))
    gc.collect()  # the 8,000 intervals just built would otherwise be swept during the first run
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        candidate_times(request)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, found


def run() -> dict[str, dict[str, float | str]]:
    timings, _found = measure()
    return {KEY: {"value": round(statistics.median(timings), 2), "unit": "ms"}}


def main() -> None:
    timings, found = measure()
    median = statistics.median(timings)
    print(f"candidate search: {PARTICIPANTS} participants x {INTERVALS} busy intervals, "
          f"{WEEKS} weeks, 90 min, {found} candidates, {ROUNDS} runs")  # fmt: skip
    print(f"{'best':>8} {'median':>8} {'worst':>8}")
    print(f"{min(timings):8.2f} {median:8.2f} {max(timings):8.2f}  ms")
    print({KEY: {"value": round(median, 2), "unit": "ms"}})


if __name__ == "__main__":
    main()
