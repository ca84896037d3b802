"""Updates through the fake Bot API over HTTP, on SQLite and on PostgreSQL: a real
`kerralla run` polls the fake, runs the real handlers and database, and replies over HTTP.

- Throughput: 200 people each send /start and /apua at once (400 updates); updates a second
  from the first sent to the last reply, and the bot process's CPU time per update.
- Latency: 150 people send /apua, ten a second; from sending to the reply's arrival, p50 / p95.

The process's own send limit is raised (TELEGRAM_MESSAGES_PER_SECOND=1000) so that the bot's
work is measured, not Telegram's 30 replies a second.
`.venv/bin/python -m bench.updates` prints the figures; `run()` gives them to bench/__main__.
"""

from __future__ import annotations

import asyncio
import time

from scheduling import schema

from .bot_process import RunningBot, TimedFakeBotAPI, databases, percentile

BURST_USERS = 200
LATENCY_USERS = 150
LATENCY_RATE = 10.0  # updates a second
FIRST_USER = 6_000_000


async def measure(url: str) -> tuple[float, float, float, float]:
    """(updates a second, the bot's CPU ms per update in the burst, p50 ms, p95 ms)."""
    await schema.upgrade(url)
    async with (
        TimedFakeBotAPI() as api,
        RunningBot(api, url, TELEGRAM_MESSAGES_PER_SECOND="1000") as bot,
    ):
        await bot.ready()
        await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=30)
        users = iter(range(FIRST_USER, FIRST_USER + 10_000))

        # Warm-up: the first updates load what later ones find ready.
        warm = [next(users) for _ in range(10)]
        for user in warm:
            api.send_text(user, "/apua")
        await api.wait_for(lambda: {chat for _, chat in api.arrivals} >= set(warm), timeout=60)

        burst = [next(users) for _ in range(BURST_USERS)]
        before, cpu = len(api.arrivals), bot.cpu_seconds()
        sent = time.monotonic()
        for user in burst:
            api.send_text(user, "/start")
            api.send_text(user, "/apua")
        await api.wait_for(lambda: len(api.arrivals) - before >= 2 * BURST_USERS, timeout=300)
        throughput = 2 * BURST_USERS / (api.arrivals[-1][0] - sent)
        cpu_ms = (bot.cpu_seconds() - cpu) * 1000 / (2 * BURST_USERS)

        asked: dict[int, float] = {}
        for _ in range(LATENCY_USERS):
            user = next(users)
            asked[user] = time.monotonic()
            api.send_text(user, "/apua")
            await asyncio.sleep(1 / LATENCY_RATE)
        await api.wait_for(lambda: {chat for _, chat in api.arrivals} >= set(asked), timeout=120)
        answered = {chat: at for at, chat in api.arrivals if chat in asked}
        latencies = [(answered[user] - asked[user]) * 1000 for user in asked]
        return throughput, cpu_ms, percentile(latencies, 0.5), percentile(latencies, 0.95)


def run() -> dict[str, dict[str, float | str]]:
    results: dict[str, dict[str, float | str]] = {}
    with databases("updates") as each:
        for kind, url in each:
            throughput, cpu_ms, p50, p95 = asyncio.run(measure(url))
            results[f"updates_{kind}_throughput"] = {"value": round(throughput, 1), "unit": "upd/s"}
            results[f"updates_{kind}_cpu_per_update"] = {"value": round(cpu_ms, 1), "unit": "ms"}
            results[f"updates_{kind}_latency_p50"] = {"value": round(p50, 1), "unit": "ms"}
            results[f"updates_{kind}_latency_p95"] = {"value": round(p95, 1), "unit": "ms"}
    return results


if __name__ == "__main__":
    for key, figure in run().items():
        print(f"{key:40} {figure['value']:>10} {figure['unit']}")
