"""RQ with its default `Worker` (forks a work horse per job, one job at a time per worker).

Worker: `rq worker bench --url ...` (one process each). Schedule (scenario 6): RQ's own
cron (`rq cron harness/apps/rq_cron.py`), three processes.
"""

from __future__ import annotations

import os
import time

from redis import Redis
from rq import Queue

from harness import probe
from harness.apps import chunks

QUEUE = "bench"
URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0")


def noop(job: int) -> None:
    probe.noop(job)


def stamp(job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


def hold(job: int) -> None:
    probe.hold_sync(job)


def tick() -> None:
    probe.tick()


class Producer:
    """`enqueue` one by one; batches with `Queue.enqueue_many` (one Redis pipeline)."""

    is_async = False

    def __init__(self) -> None:
        self.queue = Queue(QUEUE, connection=Redis.from_url(URL))

    def single(self, jobs: int) -> None:
        for job in range(jobs):
            self.queue.enqueue(noop, job)

    def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            self.queue.enqueue_many([Queue.prepare_data(noop, (job,)) for job in chunk])

    def hold(self, jobs: int) -> None:
        for job in range(jobs):
            self.queue.enqueue(hold, job, job_timeout=3600)

    def stamp(self, job: int) -> None:
        self.queue.enqueue(stamp, job, time.time_ns())
