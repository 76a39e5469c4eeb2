"""Workhorse with Python workers: async tasks, run by `workhorse worker harness.apps.wh_app:wh`.

Schedule (scenario 6): `@wh.every(seconds=1)`, declared by every worker process at start
(an upsert: N declarers make one schedule). Only when `BENCH_SCHEDULE=1`, so the other
scenarios' workers declare nothing.
"""

from __future__ import annotations

import os
import time

from workhorse import Workhorse

from harness import probe
from harness.apps import chunks

QUEUE = "bench"
wh = Workhorse(os.environ.get("BENCH_BROKER_URL"))


@wh.task(name="bench.noop", queue=QUEUE)
async def noop(job: int) -> None:
    probe.noop(job)


@wh.task(name="bench.stamp", queue=QUEUE)
async def stamp(job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


@wh.task(name="bench.hold", queue=QUEUE)
async def hold(job: int) -> None:
    await probe.hold_async(job)


if os.environ.get("BENCH_SCHEDULE") == "1":

    @wh.every(seconds=1, name="bench.tick")
    @wh.task(name="bench.tick", queue=QUEUE)
    async def tick() -> None:
        probe.tick()


class Producer:
    """Enqueues through the Python SDK (`task.enqueue`, `wh.enqueue_many`)."""

    is_async = True

    async def single(self, jobs: int) -> None:
        for job in range(jobs):
            await noop.enqueue(job)

    async def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            await wh.enqueue_many([noop.call(job) for job in chunk])

    async def hold(self, jobs: int) -> None:
        await wh.enqueue_many([hold.call(job) for job in range(jobs)])

    async def stamp(self, job: int) -> None:
        await stamp.enqueue(job, time.time_ns())
