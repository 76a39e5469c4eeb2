"""Reports: 202 with a Location to poll, progress, a result, and cancel."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from workhorse.testing import WorkhorseEnv

from tests.polling import in_state, wait_for_job


async def test_report_answers_202_and_succeeds_with_progress(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    charge = {"charge_id": "order-1", "customer": "cus_1", "amount_cents": 1250}
    assert (await client.post("/charges", json=charge)).status_code == 202
    await workhorse_env.drain()
    month = datetime.now(timezone.utc).strftime("%Y-%m")

    response = await client.post("/reports", json={"month": month})

    assert response.status_code == 202
    location = response.headers["location"]
    assert location == response.json()["status_url"]
    assert location.endswith(f"/jobs/{response.json()['job_id']}")
    await workhorse_env.drain()
    status = (await client.get(location)).json()
    assert status["state"] == "succeeded"
    assert status["result"] == {"month": month, "charges": 1, "total_cents": 1250}


async def test_running_report_shows_progress_and_stops_when_cancelled(
    client: httpx.AsyncClient,
    workhorse_env: WorkhorseEnv,
    monkeypatch: pytest.MonkeyPatch,
    app_db: Path,
) -> None:
    monkeypatch.setenv("REPORT_SECONDS_PER_DAY", "0.5")  # 15.5 s for October
    location = (await client.post("/reports", json={"month": "2026-10"})).headers["location"]

    running = await wait_for_job(client, location, lambda s: s["progress"] is not None)

    assert running["state"] == "running"
    assert 0 < running["progress"]["fraction"] < 1
    assert running["progress"]["message"].startswith("2026-10-")
    response = await client.delete(location)
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    status = await wait_for_job(client, location, in_state("cancelled"))
    assert status["result"] is None
    with sqlite3.connect(app_db) as connection:
        assert connection.execute("SELECT count(*) FROM reports").fetchone() == (0,)


async def test_unknown_job_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/jobs/0193a8d2-0000-7000-8000-000000000000")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_report_refuses_a_bad_month(client: httpx.AsyncClient) -> None:
    response = await client.post("/reports", json={"month": "October"})
    assert response.status_code == 422
