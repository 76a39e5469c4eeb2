"""Taskiq with taskiq-redis's `RedisStreamBroker`: the broker its README recommends when
messages must be acknowledged (consumer groups with XACK; a crashed worker's pending
messages are reclaimed after `idle_timeout`). `ListQueueBroker` pops and forgets, so a
killed worker loses what it held.

Worker: `taskiq worker harness.apps.taskiq_app:broker --workers 2 --max-async-tasks 100`
(acknowledged `when_saved`, taskiq's default: after the task ran and its result was
handled). Schedule (scenario 6): `taskiq scheduler harness.apps.taskiq_app:scheduler`, run
three times, with a `LabelScheduleSource` interval of 1 s.
"""

from __future__ import annotations

import asyncio
import os
import time

from taskiq import TaskiqScheduler
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import RedisStreamBroker

from harness import probe
from harness.apps import chunks

URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0")

# taskiq-redis defaults, written out: pending messages of a dead consumer are reclaimed
# after 10 minutes idle; each read takes up to 100 messages.
SETTINGS = {"queue_name": "bench", "idle_timeout": 600_000, "xread_count": 100}

broker = RedisStreamBroker(URL, **SETTINGS)
scheduler = TaskiqScheduler(broker, sources=[LabelScheduleSource(broker)])


@broker.task(task_name="bench.noop")
async def noop(job: int) -> None:
    probe.noop(job)


@broker.task(task_name="bench.stamp")
async def stamp(job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


@broker.task(task_name="bench.hold")
async def hold(job: int) -> None:
    await probe.hold_async(job)


@broker.task(task_name="bench.tick", schedule=[{"interval": 1}])
async def tick() -> None:
    probe.tick()


class Producer:
    """`kiq` one by one; batches as concurrent `kiq`s (taskiq has no bulk enqueue)."""

    is_async = True

    async def start(self) -> None:
        await broker.startup()

    async def stop(self) -> None:
        await broker.shutdown()

    async def single(self, jobs: int) -> None:
        for job in range(jobs):
            await noop.kiq(job)

    async def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            await asyncio.gather(*(noop.kiq(job) for job in chunk))

    async def hold(self, jobs: int) -> None:
        await asyncio.gather(*(hold.kiq(job) for job in range(jobs)))

    async def stamp(self, job: int) -> None:
        await stamp.kiq(job, time.time_ns())
