"""The six scenarios of the issue. Each takes a `Measurement` (fresh broker) and returns
its metrics; times come from what the tasks recorded themselves (`probe`), except for
`workhorse-rust`, whose figures are `workhorse bench`'s own."""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from harness.measurement import Measurement, wait_until
from harness.records import latency_summary

NS = 1_000_000_000
Metrics = dict[str, Any]


@dataclass(frozen=True)
class Params:
    """Sizes and windows of a run (`--quick` or full)."""

    drain_jobs: int
    drain_cap_s: float
    batch_size: int
    single_jobs: int
    batch_jobs: int
    rates: tuple[int, ...]
    latency_s: float
    kill_jobs: int
    kill_window_s: float
    memory_jobs: int
    schedule_warmup_s: float
    schedule_s: float


QUICK = Params(5_000, 30, 1_000, 1_000, 5_000, (500, 2_000), 3, 100, 15, 10_000, 5, 15)
FULL = Params(100_000, 60, 1_000, 5_000, 20_000, (500, 2_000), 10, 100, 60, 1_000_000, 8, 60)
"""The full run fits about two hours of a 2-core machine: a drain that has not finished in 60 s
is a rate measured over 60 s (the slow peers' figures); memory fills 1,000,000 jobs."""


# -- 1: drain ------------------------------------------------------------------------------


def drain(m: Measurement, p: Params) -> Metrics:
    """Drain `drain_jobs` no-op jobs enqueued before any worker starts."""
    if m.system.name == "workhorse-rust":
        report = m.workhorse_bench(
            "--phases", "e2e", "--jobs", str(p.drain_jobs), "--workers", "2", "--concurrency", "128"
        )
        e2e = report["end_to_end"]
        return {"jobs": e2e["jobs"], "seconds": e2e["seconds"], "jobs_per_second": e2e["jobs_per_second"]}
    m.fill(p.drain_jobs, p.batch_size)
    started = time.monotonic()
    m.start_workers()
    finished = wait_until(lambda: m.probe.count("done") >= p.drain_jobs, p.drain_cap_s, 0.1)
    wall = time.monotonic() - started
    done = [e for e in m.probe.events if e.kind == "done"]
    distinct = len({e.job for e in done})
    first = min(e.start_ns for e in done)
    last = max(e.end_ns for e in done)
    seconds = (last - first) / NS
    return {
        "jobs": distinct,
        "target_jobs": p.drain_jobs,
        "capped": not finished,
        "seconds": seconds,
        "jobs_per_second": distinct / max(seconds, 1e-9),
        "wall_from_worker_start_s": wall,
        "executed_twice": len(done) - distinct,
    }


# -- 2: enqueue ----------------------------------------------------------------------------


def enqueue(m: Measurement, p: Params) -> Metrics:
    """One producer process: single calls, then batches (no workers running)."""
    if m.system.name == "workhorse-rust":
        report = m.workhorse_bench(
            "--phases",
            "single,batch",
            "--clients",
            "1",
            "--jobs",
            str(p.single_jobs),
            "--batch-jobs",
            str(p.batch_jobs),
            "--keep-jobs",
        )
        return {
            "single_jobs_per_second": report["single_enqueue"]["jobs_per_second"],
            "batch_jobs_per_second": report["batch_enqueue"]["jobs_per_second"],
        }
    single = m.produce("single", p.single_jobs)
    batch = m.produce("batch", p.batch_jobs, p.batch_size)
    return {
        "single_jobs_per_second": single["jobs_per_second"],
        "batch_jobs_per_second": batch["jobs_per_second"],
        "batch_size": p.batch_size,
    }


# -- 3: start latency ----------------------------------------------------------------------

STRAGGLERS_S = 15.0
"""How long after the last send the jobs still waiting may start (a system whose backlog
needs longer is reported with the jobs that started, `started` < `jobs`)."""


def latency(m: Measurement, p: Params) -> Metrics:
    """Enqueue → task start at fixed arrival rates, to idle workers."""
    metrics: Metrics = {}
    if m.system.name == "workhorse-rust":
        for rate in p.rates:
            report = m.workhorse_bench(
                "--phases",
                "latency",
                "--rate",
                str(rate),
                "--latency-secs",
                str(int(p.latency_s)),
                "--workers",
                "2",
                "--concurrency",
                "128",
            )
            lat = report["start_latency"]
            metrics[str(rate)] = {key: lat[key] for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms")} | {
                "achieved_rate": lat["achieved_rate"],
                "jobs": lat["jobs"],
                "started": lat["jobs"],
            }
        return metrics
    m.start_workers()
    m.produce("single", 20)
    if not wait_until(lambda: m.probe.count("done") >= 20, 60):
        raise RuntimeError("workers did not run the warm-up jobs within 60 s")
    for rate in p.rates:
        begin = time.time_ns()
        sent = m.produce("paced", rate, p.latency_s)
        jobs = sent["jobs"]

        wait_until(lambda: len(_latencies(m, begin)) >= jobs, STRAGGLERS_S + p.latency_s, 0.1)  # noqa: B023
        millis = _latencies(m, begin)
        metrics[str(rate)] = latency_summary(millis) | {
            "achieved_rate": sent["jobs_per_second"],
            "jobs": jobs,
            "started": len(millis),
        }
    return metrics


def _latencies(m: Measurement, since_ns: int) -> list[float]:
    """Start latencies (ms) of the latency jobs enqueued since `since_ns`."""
    m.probe.poll()
    return [
        (e.start_ns - e.end_ns) / 1e6 for e in m.probe.events if e.kind == "start" and e.end_ns >= since_ns
    ]


# -- 4: kill -9 a worker -------------------------------------------------------------------

KILL_SLOTS = 100
SETTLE_S = 4.0


def kill_worker(m: Measurement, p: Params) -> Metrics:
    """Worker A takes held jobs (up to 100 at once), B starts, A is killed with `kill -9`
    (its whole process group), the held jobs are released: how long until A's jobs run
    again, and how many never complete within the window."""
    m.produce("hold", p.kill_jobs)
    a = m.start(m.system.instance(m.system.python(), KILL_SLOTS))
    _wait_stable(lambda: m.probe.count("held"), p.kill_jobs, 30)
    a_pids = {e.pid for e in m.probe.events}
    m.start(_renamed(m.system.instance(m.system.python(), KILL_SLOTS), "b"))
    time.sleep(SETTLE_S)  # B connects; there is no common readiness signal across systems
    m.probe.poll()
    done_before = {e.job for e in m.probe.events if e.kind == "done"}
    held_on_a = {
        e.job for e in m.probe.events if e.kind == "held" and e.pid in a_pids and e.job not in done_before
    }
    killed_at = time.time_ns()
    m.processes.kill(a)
    m.release_file.touch()
    wait_until(lambda: len(_done_jobs(m)) >= p.kill_jobs, p.kill_window_s, 0.05)
    starts: dict[int, list[int]] = defaultdict(list)
    for e in m.probe.events:
        if e.kind == "held":
            starts[e.job].append(e.start_ns)
    delays = sorted(
        (min(t for t in starts[job] if t > killed_at) - killed_at) / NS
        for job in held_on_a
        if any(t > killed_at for t in starts[job])
    )
    done = _done_jobs(m)
    return {
        "jobs": p.kill_jobs,
        "in_flight_at_kill": len(held_on_a),
        "rerun": len(delays),
        "rerun_p50_s": delays[len(delays) // 2] if delays else None,
        "rerun_max_s": delays[-1] if delays else None,
        "lost": p.kill_jobs - len(done),
        "lost_of_in_flight": len(held_on_a - done),
        "window_s": p.kill_window_s,
        "executed_twice_not_killed": sum(len(starts[job]) - 1 for job in starts if job not in held_on_a),
    }


def _done_jobs(m: Measurement) -> set[int]:
    m.probe.poll()
    return {e.job for e in m.probe.events if e.kind == "done"}


def _wait_stable(count: Any, target: int, timeout: float) -> None:
    """Waits until `count()` reaches `target` or stops growing for 2 s after growing."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = count()
        if now >= target:
            return
        if now != last:
            last, since = now, time.monotonic()
        elif now > 0 and time.monotonic() - since > 2:
            return
        time.sleep(0.1)


def _renamed(command: Any, suffix: str) -> Any:
    return type(command)(f"{command.name}-{suffix}", command.argv, command.env)


# -- 5: memory and disk --------------------------------------------------------------------


def memory(m: Measurement, p: Params) -> Metrics:
    """Broker RSS and bytes on disk before and after `memory_jobs` waiting jobs."""
    time.sleep(1)
    rss0, disk0 = m.broker.rss_bytes(), m.broker.disk_bytes()
    fill = m.fill(p.memory_jobs, p.batch_size)
    time.sleep(2)  # the AOF's everysec flush, SQLite's checkpoint
    rss1, disk1 = m.broker.rss_bytes(), m.broker.disk_bytes()
    return {
        "jobs": p.memory_jobs,
        "rss_mb": rss1 / 1e6,
        "disk_mb": disk1 / 1e6,
        "rss_bytes_per_job": (rss1 - rss0) / p.memory_jobs,
        "disk_bytes_per_job": (disk1 - disk0) / p.memory_jobs,
        "fill_jobs_per_second": fill["jobs_per_second"],
    }


# -- 6: a per-second schedule declared by three processes ------------------------------------

DECLARERS_RUN_TASKS = {"workhorse", "arq"}


def schedule(m: Measurement, p: Params) -> Metrics:
    """Three processes declare a per-second schedule; count fires in a window after a
    warm-up: fires per second, duplicates, missed seconds, start offset in the second."""
    run_dir = m.dir
    for command in m.system.schedulers(m.system.python(), run_dir):
        m.start(command)
    if m.system.family not in DECLARERS_RUN_TASKS:
        m.start_workers()
    begin = time.time_ns() + int(p.schedule_warmup_s * NS)
    begin -= begin % NS
    end = begin + int(p.schedule_s * NS)
    time.sleep(max(0.0, (end - time.time_ns()) / NS + 1.5))
    m.probe.poll()
    ticks = [e.start_ns for e in m.probe.events if e.kind == "tick" and begin <= e.start_ns < end]
    per_second = Counter(t // NS for t in ticks)
    offsets = [(t % NS) / 1e6 for t in ticks]
    summary = latency_summary(offsets)
    expected = int(p.schedule_s)
    return {
        "window_s": expected,
        "fires": len(ticks),
        "seconds_fired": len(per_second),
        "duplicates": len(ticks) - len(per_second),
        "missed_seconds": expected - len(per_second),
        "offset_p50_ms": summary.get("p50_ms", math.nan),
        "offset_p99_ms": summary.get("p99_ms", math.nan),
        "offset_max_ms": summary.get("max_ms", math.nan),
    }


SCENARIOS = {1: drain, 2: enqueue, 3: latency, 4: kill_worker, 5: memory, 6: schedule}
TITLES = {
    1: "Drain of no-op jobs enqueued beforehand",
    2: "Enqueue throughput, one Python producer",
    3: "Start latency (enqueue → task start) at fixed arrival rates",
    4: "kill -9 of a worker holding jobs",
    5: "Broker memory and disk with waiting jobs",
    6: "Per-second schedule declared by three processes",
}
