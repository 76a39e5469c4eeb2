"""Waiting for a job's status to meet a condition, with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

Status = dict[str, Any]


async def wait_for_job(
    client: httpx.AsyncClient,
    location: str,
    condition: Callable[[Status], bool],
    timeout: float = 15.0,
) -> Status:
    """Polls the job's status URL until `condition` holds; returns that status."""
    deadline = time.monotonic() + timeout
    while True:
        status: Status = (await client.get(location)).json()
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout} s; job: {status}")
        await asyncio.sleep(0.02)


def in_state(state: str) -> Callable[[Status], bool]:
    return lambda status: status["state"] == state
