"""Dramatiq on Redis (its RedisBroker: messages are acked after they ran; a worker that
stops heartbeating has its unacked messages requeued after `heartbeat_timeout`).

Worker: `dramatiq harness.apps.dramatiq_app --processes 2 --threads 8`. Schedule
(scenario 6): Dramatiq has none built in; its docs point to APScheduler, so three
`python -m harness.apps.dramatiq_app` processes each run an APScheduler `CronTrigger`.
"""

from __future__ import annotations

import os
import time

import dramatiq
from dramatiq import group
from dramatiq.brokers.redis import RedisBroker

from harness import probe
from harness.apps import chunks

QUEUE = "bench"

# Dramatiq's defaults, written out: requeue a dead worker's messages after 60 s without
# heartbeat; default middleware (no Results middleware: no result storage).
SETTINGS = {"heartbeat_timeout": 60_000, "dead_message_ttl": 86_400_000 * 7}

broker = RedisBroker(url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"), **SETTINGS)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, actor_name="bench_noop")
def noop(job: int) -> None:
    probe.noop(job)


@dramatiq.actor(queue_name=QUEUE, actor_name="bench_stamp")
def stamp(job: int, enqueued_ns: int) -> None:
    probe.stamp(job, enqueued_ns)


@dramatiq.actor(queue_name=QUEUE, actor_name="bench_hold")
def hold(job: int) -> None:
    probe.hold_sync(job)


@dramatiq.actor(queue_name=QUEUE, actor_name="bench_tick")
def tick() -> None:
    probe.tick()


class Producer:
    """`send` one by one; batches as a `group(...).run()` (no bulk enqueue in Dramatiq)."""

    is_async = False

    def single(self, jobs: int) -> None:
        for job in range(jobs):
            noop.send(job)

    def batch(self, jobs: range, size: int) -> None:
        for chunk in chunks(jobs, size):
            group(noop.message(job) for job in chunk).run()

    def hold(self, jobs: int) -> None:
        for job in range(jobs):
            hold.send(job)

    def stamp(self, job: int) -> None:
        stamp.send(job, time.time_ns())


def run_scheduler() -> None:
    """One APScheduler process sending `tick` every whole second."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BlockingScheduler()
    scheduler.add_job(tick.send, CronTrigger(second="*"), misfire_grace_time=1)
    scheduler.start()


if __name__ == "__main__":
    run_scheduler()
