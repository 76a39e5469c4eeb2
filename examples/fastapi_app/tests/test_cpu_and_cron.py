"""The CPU-heavy task in its own process, and the nightly cleanup schedule."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from workhorse.testing import WorkhorseEnv

from app import db
from app.tasks import count_primes, nightly_cleanup


async def test_prime_count_runs_in_a_child_process(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    assert count_primes.isolation == "process"

    response = await client.post("/primes", json={"limit": 1_000_000})

    assert response.status_code == 202
    await workhorse_env.drain(timeout=60)
    status = (await client.get(response.headers["location"])).json()
    assert status["state"] == "succeeded"
    assert status["result"] == 78_498


async def test_nightly_cleanup_is_scheduled_at_3_in_berlin(workhorse_env: WorkhorseEnv) -> None:
    # The worker declares the app's schedules when it starts.
    schedule = await wait_for_schedule(workhorse_env.url, nightly_cleanup.name)

    assert schedule["definition"]["cron"] == "0 3 * * *"
    assert schedule["definition"]["timezone"] == "Europe/Berlin"
    assert schedule["definition"]["task"] == nightly_cleanup.name
    next_fire = datetime.fromisoformat(schedule["next_fire_at"].replace("Z", "+00:00"))
    berlin = next_fire.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.hour, berlin.minute) == (3, 0)
    now = datetime.now(timezone.utc)
    assert now < next_fire <= now + timedelta(days=1)


def test_nightly_cleanup_deletes_reports_older_than_30_days(app_db: Path) -> None:
    now = datetime.now(timezone.utc)
    with db.connect() as connection:
        for job_id, age in (("old", timedelta(days=31)), ("recent", timedelta(days=2))):
            created_at = (now - age).isoformat()
            connection.execute(
                "INSERT INTO reports VALUES (?, '2026-10', '{}', ?)", (job_id, created_at)
            )

    assert nightly_cleanup() == {"deleted_reports": 1}
    with sqlite3.connect(app_db) as connection:
        assert connection.execute("SELECT job_id FROM reports").fetchall() == [("recent",)]


async def wait_for_schedule(url: str, name: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url) as http:
        while True:
            response = await http.get(f"/v1/schedules/{name}")
            if response.status_code == 200:
                schedule: dict[str, Any] = response.json()
                return schedule
            if time.monotonic() > deadline:
                raise AssertionError(f"schedule {name} not declared after {timeout} s")
            await asyncio.sleep(0.02)
