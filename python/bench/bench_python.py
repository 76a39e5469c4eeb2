"""Benchmark of the Python SDK against a real `workhorse serve` process (not a test).

Measures, from one Python process each:
- enqueue, one job per request (sequential awaits) and in batches (`enqueue_many`);
- end to end: one `workhorse worker` process running async no-op tasks, from the first
  enqueue until every job has succeeded.

Run it from a release build (`maturin develop --release`):

    python bench/bench_python.py [--jobs 50000] [--single 5000] [--batch 1000]
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
from pathlib import Path

from workhorse import Workhorse

wh = Workhorse()


@wh.task(name="bench.noop", queue="bench")
async def noop(n: int) -> None:
    """Does nothing: the benchmark measures the machinery around it."""


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


async def bench_single(count: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        await noop.enqueue(n)
    return count / (time.perf_counter() - start)


async def bench_batch(count: int, batch: int) -> float:
    start = time.perf_counter()
    for first in range(0, count, batch):
        await wh.enqueue_many(
            [noop.call(n) for n in range(first, min(count, first + batch))]
        )
    return count / (time.perf_counter() - start)


async def succeeded() -> int:
    queues = json.loads(await wh.client.list_queues())
    queues = queues["queues"] if isinstance(queues, dict) else queues
    return sum(q["counts"].get("succeeded", 0) for q in queues if q["name"] == "bench")


async def bench_end_to_end(url: str, count: int, batch: int, concurrency: int) -> float:
    worker = start_worker(url, concurrency)
    try:
        await (await noop.enqueue(-1)).result(timeout=60)  # the worker is up
        done_before = await succeeded()
        start = time.perf_counter()
        for first in range(0, count, batch):
            await wh.enqueue_many(
                [noop.call(n) for n in range(first, min(count, first + batch))]
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
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        server, url = start_server(Path(data_dir))
        try:
            wh.configure(url=url)
            single = await bench_single(options.single)
            batched = await bench_batch(options.jobs, options.batch)
            end_to_end = await bench_end_to_end(
                url, options.jobs, options.batch, options.concurrency
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    print(f"{'measure':<44} {'jobs/s':>10}")
    print(f"{'enqueue, one per request (sequential)':<44} {single:>10,.0f}")
    print(f"{f'enqueue_many, batches of {options.batch}':<44} {batched:>10,.0f}")
    print(f"{'end to end, one worker process, async no-op':<44} {end_to_end:>10,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
