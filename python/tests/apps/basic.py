"""The app most SDK tests run: one task per behaviour under test. Tasks record what
they saw in `seen` (the worker runs in the test process), and some wait on `gates`."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from typing import Any

from workhorse import Abort, Backoff, JobContext, Resources, Retry, Workhorse

wh = Workhorse()

seen: defaultdict[str, list[Any]] = defaultdict(list)
gates: defaultdict[str, threading.Event] = defaultdict(threading.Event)


def reset() -> None:
    seen.clear()
    gates.clear()


@wh.on_startup
async def open_resources(resources: Resources) -> dict[str, Any]:
    resources["greeting"] = "hello"
    return {"started_at": time.monotonic()}


@wh.on_shutdown
def close_resources(resources: Resources) -> None:
    seen["shutdown"].append(sorted(resources))


@wh.task
async def add(a: int, b: int) -> int:
    return a + b


@wh.task
def multiply(a: float, b: float) -> float:
    seen["multiply-thread"].append(threading.current_thread().name)
    return a * b


@wh.task(isolation="process")
def square(ctx: JobContext, n: int) -> dict[str, Any]:
    import os

    return {"square": n * n, "pid": os.getpid(), "job_id": ctx.job_id}


@wh.task(queue="emails", name="emails.send")
async def send_email(to: str, *, subject: str = "hi") -> dict[str, str]:
    return {"to": to, "subject": subject}


@wh.task(retries=3)
async def retries_once(ctx: JobContext) -> int:
    if ctx.attempt == 1:
        raise Retry(delay=0.2)
    return ctx.attempt


@wh.task(retries=2, backoff=Backoff(base=0.05, max=0.1))
def always_fails(x: int) -> None:
    raise ValueError(f"no good: {x}")


@wh.task(retries=5)
async def aborts() -> None:
    raise Abort("the input can never work")


@wh.task
async def waits_at_gate(ctx: JobContext, gate: str) -> str:
    ctx.progress(0.5, "halfway")
    while not gates[gate].is_set():
        await asyncio.sleep(0.01)
    return gate


@wh.task
async def cancellable(marker: str) -> None:
    seen[marker].append("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        seen[marker].append("cancelled")
        raise


@wh.task
def thread_sees_cancel(ctx: JobContext, marker: str) -> None:
    seen[marker].append("started")
    deadline = time.monotonic() + 30
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    seen[marker].append(ctx.stop_reason)


@wh.task(timeout=0.5, retries=0)
async def overruns() -> None:
    await asyncio.sleep(30)


@wh.task(retries=0)
async def bad_result() -> object:
    return object()


@wh.task
async def uses_resources(ctx: JobContext) -> list[Any]:
    return [ctx.resources["greeting"], "started_at" in ctx.resources]


@wh.task
async def logs(ctx: JobContext) -> None:
    ctx.logger.warning("from the task logger")
    logging.getLogger("somewhere.else").warning("from another logger")


@wh.cron("0 3 * * *", tz="Europe/Berlin")
async def nightly_cleanup() -> None:
    seen["nightly"].append(True)


@wh.every(minutes=5, name="tick-every-5-minutes")
def tick() -> None:
    seen["tick"].append(True)
