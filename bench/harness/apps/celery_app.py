"""Celery 5 on Redis, configured as Celery's docs recommend for reliable delivery.

Worker: `celery -A harness.apps.celery_app worker -P prefork|threads ...`; schedule
(scenario 6): `celery -A harness.apps.celery_app beat` (run three times: Celery's docs
say to run one beat, which is the point of the scenario).
"""

from __future__ import annotations

import os
import time

from celery import Celery, group

from harness import probe
from harness.apps import chunks

QUEUE = "bench"

SETTINGS = {
    "broker_url": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    # Reliability, per the docs' "Should I use retry or acks_late?" and Redis notes:
    # acknowledge after the task ran, requeue when the worker process is lost, and
    # reserve only one message per process so a dying worker holds as few as possible.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    # The tasks return nothing; no result backend (none of the peers stores results).
    "task_ignore_result": True,
    "task_default_queue": QUEUE,
    "broker_connection_retry_on_startup": True,
    # Redis visibility timeout: Celery's default (1 hour), stated here to be explicit.
    "broker_transport_options": {"visibility_timeout": 3600},
    "worker_hijack_root_logger": False,
    "beat_schedule": {
        "bench.tick": {"task": "bench.tick", "schedule": 1.0},
    },
}

app = Celery("bench")
app.conf.update(SETTINGS)


@app.task(name="bench.noop")
def noop(job: int) -> None:
    probe.noop(job)


@app.task(name="bench.stamp")
def stamp(job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


@app.task(name="bench.hold")
def hold(job: int) -> None:
    probe.hold_sync(job)


@app.task(name="bench.tick")
def tick() -> None:
    probe.tick()


class Producer:
    """`apply_async` one by one; batches as a `group` (Celery has no bulk publish)."""

    is_async = False

    def single(self, jobs: int) -> None:
        for job in range(jobs):
            noop.apply_async((job,))

    def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            group(noop.s(job) for job in chunk).apply_async()

    def hold(self, jobs: int) -> None:
        for job in range(jobs):
            hold.apply_async((job,))

    def stamp(self, job: int) -> None:
        stamp.apply_async((job, time.time_ns()))
