"""The app the workflow tests run: small tasks whose results show what each job received,
and a task that waits on a gate, so a test decides the order jobs finish in."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

from workhorse import Workhorse

wh = Workhorse()

gates: defaultdict[str, threading.Event] = defaultdict(threading.Event)


@wh.task
async def add(a: int, b: int) -> int:
    return a + b


@wh.task
async def double(n: int) -> int:
    return 2 * n


@wh.task
async def collect(results: list[Any] | None, label: str) -> dict[str, Any]:
    """A chord callback: shows the list of results it received."""
    return {"label": label, "results": results}


@wh.task
async def at_gate(gate: str) -> str:
    """Finishes once the test opens `gate`; its result is the gate's name."""
    while not gates[gate].is_set():
        await asyncio.sleep(0.01)
    return gate


@wh.task(retries=0)
async def fails() -> None:
    raise ValueError("this input can never work")
