"""Benchmark of the Python SDK against a real `workhorse serve` process (not a test).

Measures, from one Python process each:
- enqueue, one job per request (sequential awaits) and in batches (`enqueue_many`);
- end to end: one `workhorse worker` process running async no-op tasks, from the first
  enqueue until every job has succeeded;

each with plain JSON arguments (an `int`) and with a Pydantic model (an order with a UUID,
a Decimal, a datetime and three lines, validated into the model on the worker, a model
returned), so the cost of typed values shows as a ratio.

Run it from a release build (`maturin develop --release`):

    python bench/bench_python.py [--jobs 50000] [--single 5000] [--batch 1000] [--values both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from workhorse import TaskCall, Workhorse

wh = Workhorse()


class Line(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal


class Order(BaseModel):
    id: uuid.UUID
    customer: str
    placed_at: datetime
    lines: list[Line]


class Receipt(BaseModel):
    order_id: uuid.UUID
    total: Decimal


@wh.task(name="bench.noop", queue="bench")
async def noop(n: int) -> None:
    """Does nothing: the benchmark measures the machinery around it."""


@wh.task(name="bench.order", queue="bench")
async def take_order(order: Order) -> Receipt:
    """Receives an `Order` model and returns a `Receipt`: the cost of typed values."""
    return Receipt(order_id=order.id, total=Decimal(0))


def order(n: int) -> Order:
    lines = [
        Line(sku=f"sku-{i}", quantity=i + 1, unit_price=Decimal("9.99"))
        for i in range(3)
    ]
    return Order(
        id=uuid.UUID(int=n + 1),
        customer=f"cus_{n}",
        placed_at=datetime.now(timezone.utc),
        lines=lines,
    )


CALLS: dict[str, Callable[[int], TaskCall[Any]]] = {
    "plain": noop.call,
    "pydantic": lambda n: take_order.call(order(n)),
}
"""How job number n is called, per kind of values."""


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = data_dir / "port"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workhorse",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(data_dir),
            "--port-file",
            str(port_file),
        ],
    )
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("workhorse serve did not start")
        time.sleep(0.02)
    return server, f"http://{port_file.read_text().strip()}"


def start_worker(url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WORKHORSE_URL": url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workhorse",
            "worker",
            "bench_python:wh",
            "--concurrency",
            str(concurrency),
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).parent,
        env=env,
    )


async def bench_single(count: int, call: Callable[[int], TaskCall[Any]]) -> float:
    start = time.perf_counter()
    for n in range(count):
        await call(n).enqueue()
    return count / (time.perf_counter() - start)


async def bench_batch(
    count: int, batch: int, call: Callable[[int], TaskCall[Any]]
) -> float:
    start = time.perf_counter()
    for first in range(0, count, batch):
        await wh.enqueue_many(
            [call(n) for n in range(first, min(count, first + batch))]
        )
    return count / (time.perf_counter() - start)


async def succeeded() -> int:
    queues = json.loads(await wh.client.list_queues())
    queues = queues["queues"] if isinstance(queues, dict) else queues
    return sum(q["counts"].get("succeeded", 0) for q in queues if q["name"] == "bench")


async def bench_end_to_end(
    url: str,
    count: int,
    batch: int,
    concurrency: int,
    call: Callable[[int], TaskCall[Any]],
) -> float:
    worker = start_worker(url, concurrency)
    try:
        await (await call(-1).enqueue()).result(timeout=60)  # the worker is up
        done_before = await succeeded()
        start = time.perf_counter()
        for first in range(0, count, batch):
            await wh.enqueue_many(
                [call(n) for n in range(first, min(count, first + batch))]
            )
        while await succeeded() < done_before + count:
            await asyncio.sleep(0.01)
        return count / (time.perf_counter() - start)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000, help="end-to-end jobs")
    parser.add_argument("--single", type=int, default=5_000, help="single enqueues")
    parser.add_argument(
        "--batch", type=int, default=1_000, help="enqueue_many batch size"
    )
    parser.add_argument(
        "--concurrency", type=int, default=1_000, help="worker concurrency"
    )
    parser.add_argument(
        "--values", choices=["plain", "pydantic", "both"], default="both",
        help="arguments: an int, a Pydantic order model, or both (default)",
    )  # fmt: skip
    options = parser.parse_args()
    kinds = ["plain", "pydantic"] if options.values == "both" else [options.values]
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        server, url = start_server(Path(data_dir))
        try:
            wh.configure(url=url)
            for kind in kinds:
                call = CALLS[kind]
                figures[kind] = [
                    await bench_single(options.single, call),
                    await bench_batch(options.jobs, options.batch, call),
                    await bench_end_to_end(
                        url, options.jobs, options.batch, options.concurrency, call
                    ),
                ]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    measures = [
        "enqueue, one per request (sequential)",
        f"enqueue_many, batches of {options.batch}",
        "end to end, one worker process, async task",
    ]
    print(f"{'measure':<44}" + "".join(f" {kind + ' jobs/s':>16}" for kind in kinds))
    for row, measure in enumerate(measures):
        print(f"{measure:<44}" + "".join(f" {figures[k][row]:>16,.0f}" for k in kinds))
    if len(kinds) == 2:
        for row, measure in enumerate(measures):
            ratio = figures["pydantic"][row] / figures["plain"][row]
            print(f"pydantic / plain, {measure}: {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
