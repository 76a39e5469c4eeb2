"""The producer side of every scenario, run in the system's own venv:

    python -m harness.produce MODULE OP [ARGS...]

MODULE is `harness.apps.<system>`; it defines a `Producer` (sync or async methods
`single`, `batch`, `hold`, `stamp`, optional `start`/`stop`). OP is one of:

- `single JOBS`          enqueue JOBS no-op jobs one call at a time;
- `batch JOBS SIZE [FIRST]`  enqueue JOBS no-op jobs (numbered from FIRST, default 0) in
                         batches of SIZE;
- `hold JOBS`            enqueue JOBS held jobs (scenario 4);
- `paced RATE SECONDS`   enqueue latency jobs open-loop at RATE per second (scenario 3):
                         job k is due at start + k/RATE; a late producer sends at once.

Prints one JSON object: `{"jobs": N, "seconds": S, "jobs_per_second": R}`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
from typing import Any


async def _call(fn: Any, *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def _paced(producer: Any, rate: float, seconds: float) -> int:
    jobs = int(rate * seconds)
    start = time.perf_counter()
    pending: set[asyncio.Task[Any]] = set()
    for job in range(jobs):
        delay = start + job / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if producer.is_async:
            # Open loop: every send starts on time, whether earlier ones answered or not.
            task = asyncio.create_task(producer.stamp(job))
            pending.add(task)
            task.add_done_callback(pending.discard)
        else:
            producer.stamp(job)
    if pending:
        await asyncio.gather(*pending)
    return jobs


async def run(module_name: str, op: str, args: list[str]) -> dict[str, Any]:
    producer = importlib.import_module(module_name).Producer()
    if hasattr(producer, "start"):
        await _call(producer.start)
    try:
        start = time.perf_counter()
        if op == "paced":
            jobs = await _paced(producer, float(args[0]), float(args[1]))
        elif op == "batch":
            jobs, size, *first = (int(arg) for arg in args)
            start_at = first[0] if first else 0
            await _call(producer.batch, range(start_at, start_at + jobs), size)
        else:
            numbers = [int(arg) for arg in args]
            await _call(getattr(producer, op), *numbers)
            jobs = numbers[0]
        seconds = time.perf_counter() - start
    finally:
        if hasattr(producer, "stop"):
            await _call(producer.stop)
    return {"jobs": jobs, "seconds": seconds, "jobs_per_second": jobs / max(seconds, 1e-9)}


def main() -> None:
    module_name, op, *args = sys.argv[1:]
    print(json.dumps(asyncio.run(run(module_name, op, args))))


if __name__ == "__main__":
    main()
