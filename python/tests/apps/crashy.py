"""Tasks for the end-to-end tests with real worker processes. The tests watch them
through files (each task writes what it did to the path it is given)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from workhorse import JobContext, Workhorse

wh = Workhorse()


def note(path: str, line: str) -> None:
    with Path(path).open("a") as file:
        file.write(line + "\n")


@wh.task
async def hangs_on_first_attempt(ctx: JobContext, path: str) -> int:
    note(path, f"attempt {ctx.attempt}")
    if ctx.attempt == 1:
        await asyncio.sleep(3600)
    return ctx.attempt


@wh.task
async def takes_a_while(path: str, seconds: float, n: int) -> int:
    note(path, f"started {n}")
    await asyncio.sleep(seconds)
    note(path, f"finished {n}")
    return n


@wh.task
def blocks_its_thread(path: str, seconds: float) -> None:
    note(path, "blocking")
    time.sleep(seconds)


@wh.task
async def outlives_the_lease(ctx: JobContext, seconds: float) -> int:
    await asyncio.sleep(seconds)
    return ctx.attempt


@wh.task(isolation="process", timeout=1, retries=0)
def spins(path: str) -> None:
    note(path, str(os.getpid()))
    while True:
        pass


@wh.task(isolation="process")
def pid() -> int:
    return os.getpid()


@wh.task
async def waits_for_cancel(path: str) -> None:
    note(path, "started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        note(path, "cancelled")
        raise


_held: list[bytes] = []


@wh.task(isolation="process")
def grows(mib: int) -> int:
    """Keeps `mib` MiB more resident in its process (touched, so really resident)."""
    _held.append(b"\x01" * (mib * 1024 * 1024))
    return os.getpid()


@wh.task
async def logs_a_warning(ctx: JobContext, text: str) -> None:
    ctx.logger.warning("from the job: %s", text)
