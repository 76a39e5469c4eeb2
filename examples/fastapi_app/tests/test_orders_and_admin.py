"""Typed orders through a task with a database dependency, report schedules managed at run
time, and the dead-letter redrive endpoint."""

from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
from workhorse.testing import WorkhorseEnv

from app.tasks import Shipment, ship_order

ORDER = {
    "order_id": str(uuid.UUID(int=1042)),
    "customer": "cus_42",
    "lines": [
        {"sku": "mug", "quantity": 2, "unit_price": "12.50"},
        {"sku": "tea", "quantity": 1, "unit_price": "4.99"},
    ],
    "placed_at": "2026-12-07T09:30:00+01:00",
}


async def test_an_order_model_goes_through_a_typed_task_with_its_db_session(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv, app_db: Path
) -> None:
    response = await client.post("/orders", json=ORDER)
    assert response.status_code == 202
    job = workhorse_env.app.job(response.json()["job_id"])  # type: ignore[union-attr]
    await workhorse_env.drain()

    status = (await client.get(response.headers["location"])).json()
    assert status["state"] == "succeeded"
    assert status["result"]["total"] == "29.99", "a Decimal, stored as text: no float rounding"
    with sqlite3.connect(app_db) as connection:
        rows = connection.execute("SELECT order_id, total FROM orders").fetchall()
    assert rows == [(ORDER["order_id"], "29.99")], "the dependency's transaction committed"

    # Enqueued from Python, the result comes back as the task's return type.
    typed = await ship_order.enqueue(ship_order.types.parameters["order"].decode(ORDER))
    shipment = await typed.result(timeout=20)
    assert isinstance(shipment, Shipment)
    assert shipment.total == Decimal("29.99")
    assert (await job.status()).state.value == "succeeded"


async def test_a_bad_order_is_refused_before_any_job(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    response = await client.post("/orders", json={**ORDER, "lines": []})
    assert response.status_code == 422


async def test_report_schedules_are_added_listed_and_removed_at_run_time(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    added = await client.put(
        "/report-schedules/weekly",
        json={"cron": "0 6 * * 1", "tz": "Europe/Berlin", "month": "2026-10"},
    )
    assert added.status_code == 200
    assert len(added.json()["next_runs"]) >= 2

    listed = (await client.get("/report-schedules")).json()
    assert [s["name"] for s in listed] == ["weekly"]

    bad = await client.put(
        "/report-schedules/broken", json={"cron": "0 25 * * *", "month": "2026-10"}
    )
    assert bad.status_code == 422
    assert "cron: hour 25" in bad.json()["detail"]
    assert [s["name"] for s in (await client.get("/report-schedules")).json()] == ["weekly"]

    assert (await client.delete("/report-schedules/weekly")).status_code == 204
    assert (await client.get("/report-schedules")).json() == []
    assert (await client.delete("/report-schedules/weekly")).status_code == 404


async def test_dead_letters_are_redriven_by_the_admin_endpoint(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    response = await client.post("/reports", json={"month": "2026-13"})
    assert response.status_code == 422, "the endpoint's model refuses a bad month"
    job = await workhorse_env.app.remote_task(  # type: ignore[union-attr]
        "app.tasks.generate_report", queue="reports"
    ).enqueue("13-2026")
    await workhorse_env.drain()
    assert (await job.status()).state.value == "dead", "Abort: bad input is dead at once"

    redriven = await client.post("/admin/dead-letters/redrive", params={"queue": "reports"})
    assert redriven.json() == {"redriven": 1}
    await workhorse_env.drain()
    status = await job.status()
    assert status.state.value == "dead"
    assert len(status.errors) == 2
