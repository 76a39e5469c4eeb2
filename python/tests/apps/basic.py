"""The app most SDK tests run: one task per behaviour under test. Tasks record what
they saw in `seen` (the worker runs in the test process), and some wait on `gates`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pydantic
from fastapi import Depends

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


# -- values: typed arguments and results (tests/test_values.py) -----------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: decimal.Decimal
    y: decimal.Decimal


class Order(pydantic.BaseModel):
    id: uuid.UUID
    amount: decimal.Decimal
    placed_at: datetime.datetime
    color: Color
    tags: set[str]


class Receipt(pydantic.BaseModel):
    # Binary fields of a model follow the model's own settings: base64 both ways.
    model_config = pydantic.ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    order: Order
    day: datetime.date
    at: datetime.time
    span: datetime.timedelta
    blob: bytes
    pair: tuple[int, str]
    point: Point
    kinds: list[str]


@wh.task(retries=3)
async def take_values(
    order: Order,
    day: datetime.date,
    at: datetime.time,
    span: datetime.timedelta,
    blob: bytes,
    pair: tuple[int, str],
    *,
    point: Point,
) -> Receipt:
    """Receives every kind of value as its annotated type, and returns them in a model."""
    values = (order, day, at, span, blob, pair, point)
    kinds = [type(value).__name__ for value in values]
    return Receipt(
        order=order,
        day=day,
        at=at,
        span=span,
        blob=blob,
        pair=pair,
        point=point,
        kinds=kinds,
    )


@wh.task
def thread_values(when: datetime.datetime, ids: list[uuid.UUID]) -> dict[str, Any]:
    """A plain function (run in a thread) receives typed values too."""
    return {
        "when": when,
        "ids": ids,
        "types": [type(when).__name__, type(ids[0]).__name__],
    }


@wh.task
async def echo_bytes(blob: bytes) -> bytes:
    return blob[::-1]


# -- dependencies: FastAPI's Depends in tasks (tests/test_dependencies.py) -------------


@dataclasses.dataclass
class Session:
    dsn: str
    number: int


def get_settings() -> dict[str, str]:
    return {"dsn": "postgresql://app"}


async def get_session(
    settings: dict[str, str] = Depends(get_settings),
) -> AsyncIterator[Session]:
    session = Session(settings["dsn"], len(seen["sessions"]))
    seen["sessions"].append(("open", session.number))
    try:
        yield session
    except Exception as error:
        seen["sessions"].append(("rollback", session.number, type(error).__name__))
        raise
    finally:
        seen["sessions"].append(("close", session.number))


@wh.task(retries=0)
async def uses_session(
    action: str, db: Session = Depends(get_session)
) -> dict[str, Any]:
    seen["uses_session"].append(db.number)
    if action == "fail":
        raise RuntimeError("the task failed")
    if action == "wait":
        gates["uses_session"].set()
        await asyncio.sleep(3600)
    return {"dsn": db.dsn, "session": db.number}


def get_box() -> Iterator[list[int]]:
    box: list[int] = []
    yield box
    seen["box closed"].append(box)


@wh.task
def thread_uses_box(
    n: int,
    box: Annotated[list[int], Depends(get_box)] = [],  # noqa: B006 - a dependency
) -> int:
    box.append(n)
    return threading.current_thread().name.startswith("workhorse-task") * n
