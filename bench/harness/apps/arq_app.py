"""ARQ (its own venv: arq 0.28 needs redis<6). Jobs stay in Redis while they run
("pessimistic execution"); a killed worker's jobs run again once their in-progress key
expires (the job timeout, 300 s by default, plus a margin).

Worker: `arq harness.apps.arq_app.WorkerSettings` (one process each). Schedule
(scenario 6): `cron(tick, second=every second)` in the `ScheduleSettings` worker, three
processes; ARQ's cron jobs are `unique` by default (a job id per fire time).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings
from arq.cron import cron

from harness import probe
from harness.apps import chunks

QUEUE = "bench"
REDIS = RedisSettings.from_dsn(os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))
MAX_JOBS = int(os.environ.get("BENCH_SLOTS", "100"))


async def noop(ctx: dict[str, Any], job: int) -> None:
    probe.noop(job)


async def stamp(ctx: dict[str, Any], job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


async def hold(ctx: dict[str, Any], job: int) -> None:
    await probe.hold_async(job)


async def tick(ctx: dict[str, Any]) -> None:
    probe.tick()


class WorkerSettings:
    """ARQ's defaults except the queue name and `max_jobs` (the shared slot count)."""

    functions: ClassVar = [noop, stamp, hold]
    queue_name = QUEUE
    redis_settings = REDIS
    max_jobs = MAX_JOBS


class ScheduleSettings:
    """`WorkerSettings` plus the cron job (ARQ reads only a settings class's own attributes)."""

    functions = WorkerSettings.functions
    queue_name = QUEUE
    redis_settings = REDIS
    max_jobs = MAX_JOBS
    cron_jobs: ClassVar = [cron(tick, second=set(range(60)), run_at_startup=False)]


class Producer:
    """`enqueue_job` one by one; batches as concurrent `enqueue_job`s (no bulk enqueue)."""

    is_async = True

    async def start(self) -> None:
        self.redis = await create_pool(REDIS, default_queue_name=QUEUE)

    async def stop(self) -> None:
        await self.redis.aclose()

    async def single(self, jobs: int) -> None:
        for job in range(jobs):
            await self.redis.enqueue_job("noop", job)

    async def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            await asyncio.gather(*(self.redis.enqueue_job("noop", job) for job in chunk))

    async def hold(self, jobs: int) -> None:
        await asyncio.gather(*(self.redis.enqueue_job("hold", job) for job in range(jobs)))

    async def stamp(self, job: int) -> None:
        await self.redis.enqueue_job("stamp", job, time.time_ns())
