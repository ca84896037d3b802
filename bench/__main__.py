"""`make bench`: run every benchmark, print a table, write bench/results.json.

Each module in BENCHMARKS has `run() -> {"name": {"value": …, "unit": …}}`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from pathlib import Path

BENCHMARKS = (
    "bench.candidates",
    "bench.jobs",
    "bench.tokens",
    "bench.delivery",
    "bench.updates",
    "bench.process",
    "bench.calendars",
)
RESULTS = Path(__file__).resolve().parent / "results.json"


def machine() -> str:
    cores = len(os.sched_getaffinity(0))
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"


def main() -> None:
    results: dict[str, dict[str, float | str]] = {}
    for name in BENCHMARKS:
        results.update(importlib.import_module(name).run())
    print(f"{'benchmark':44} {'value':>10}  unit    ({machine()})")
    for key, figure in results.items():
        print(f"{key:44} {figure['value']:>10}  {figure['unit']}")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
