"""`python -m harness [--quick] [--systems a,b] [--scenarios 1,2] [--redis-modes always,everysec]`:
runs the scenarios for the systems and writes `results/<date>.json`, `.md` and charts."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from harness import environment, report
from harness.measurement import Measurement, Run
from harness.scenarios import FULL, QUICK, SCENARIOS, TITLES, Params
from harness.servers import REDIS_MODES, WORKHORSE_SETTINGS
from harness.systems import BENCH, SYSTEMS, WORKER_PROCESSES, System

MODE_SCENARIOS = {1, 2, 3}
"""Scenarios run on every Redis fsync mode; the others (a worker's death, memory, the
scheduler) do not depend on it and run on `always` only."""

REPEATED_SCENARIOS = {1, 2, 3}
REPETITION_POLICY = (
    "Scenarios 1-3 (timed figures that vary from run to run) are the median of 3 repetitions on "
    "the durable brokers (Workhorse, Redis `always`); Redis `everysec` and scenarios 4-6 (counted "
    "outcomes: jobs lost, duplicate fires, bytes per job) run once, which keeps the full run near "
    "two hours on a 2-core machine."
)
"""The full run's repetitions; `--reps N` repeats every measurement N times instead."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer jobs, shorter windows, 1 repetition")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated (default: all)")
    parser.add_argument("--scenarios", default="1,2,3,4,5,6", help="comma-separated numbers")
    parser.add_argument(
        "--redis-modes",
        default=None,
        help="Redis fsync modes for scenarios 1-3 (default: always,everysec; --quick: always)",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        help="repetitions of every measurement (default: 3 for scenarios 1-3 on durable brokers, "
        "else 1; --quick: 1)",
    )
    parser.add_argument("--binary", type=Path, required=True, help="the workhorse binary")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; known: {', '.join(SYSTEMS)}")
    return args


FOOTPRINT_SCENARIO = 5
"""Memory and disk: Redis holds the same bytes whatever its fsync policy, and `always` makes
a million-job fill take half an hour per peer (an fsync per message), so it runs on
`everysec`."""


def broker_modes(system: System, scenario: int, modes: list[str]) -> list[str]:
    if system.broker == "workhorse":
        return ["sqlite-fsync"]
    if scenario == FOOTPRINT_SCENARIO:
        return ["everysec"]
    return modes if scenario in MODE_SCENARIOS else ["always"]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    params = QUICK if args.quick else FULL
    reps = args.reps or (1 if args.quick else 3)
    reps_of = _repetitions(args.reps, reps)
    modes = (args.redis_modes or ("always" if args.quick else "always,everysec")).split(",")
    systems = [SYSTEMS[name] for name in args.systems.split(",")]
    scenarios = [int(number) for number in args.scenarios.split(",")]
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", f"/tmp/workhorse-bench-{stamp}"))
    log_dir.mkdir(parents=True, exist_ok=True)
    run = Run(args.binary.resolve(), log_dir, log_dir / "pids")
    results: dict[str, Any] = {
        "date": stamp,
        "command": "bash bench/run.sh " + " ".join(os.environ.get("BENCH_ARGS", "").split()),
        "quick": args.quick,
        "repetitions": reps,
        "repetition_policy": _policy(args, reps),
        "machine": environment.machine(),
        "versions": environment.versions(args.binary),
        "settings": {
            "worker_processes": WORKER_PROCESSES,
            "params": dataclasses.asdict(params),
            "redis": REDIS_MODES,
            "workhorse": WORKHORSE_SETTINGS,
            "systems": {system.name: system.settings for system in systems},
        },
        "measurements": [],
        "errors": [],
    }
    started = time.monotonic()
    paths: list[Path] = []
    for scenario in scenarios:
        print(f"== scenario {scenario}: {TITLES[scenario]}", flush=True)
        families_done: set[str] = set()
        for system in systems:
            if scenario not in system.covers:
                continue
            if scenario == 5 and system.family in families_done:
                continue  # the broker's footprint does not depend on the worker pool
            families_done.add(system.family)
            for mode in broker_modes(system, scenario, modes):
                for rep in range(reps_of(scenario, mode)):
                    measure(run, system, scenario, mode, rep, params, results)
                    # Written after every measurement: an interrupted run keeps what it did.
                    paths = finish(results, started, args.out)
    print(f"wrote {', '.join(str(path) for path in paths)} in {results['wall_seconds']:.0f} s")
    return 0


def _policy(args: argparse.Namespace, reps: int) -> str:
    if args.reps or args.quick:
        return f"Every measurement runs {reps} time(s); values are medians."
    return REPETITION_POLICY


def _repetitions(explicit: int | None, default: int) -> Any:
    def reps_of(scenario: int, mode: str) -> int:
        if explicit is not None or default == 1:
            return default
        durable = mode in {"always", "sqlite-fsync"}
        return default if scenario in REPEATED_SCENARIOS and durable else 1

    return reps_of


def finish(results: dict[str, Any], started: float, out: Path) -> list[Path]:
    results["machine"]["load_after"] = list(os.getloadavg())
    results["wall_seconds"] = time.monotonic() - started
    results["summary"] = summarize(results["measurements"])
    return report.write(results, out)


def measure(
    run: Run, system: System, scenario: int, mode: str, rep: int, params: Params, results: dict[str, Any]
) -> None:
    label = f"   {system.name:<17} {mode:<13} rep {rep + 1}"
    began = time.monotonic()
    try:
        with Measurement(run, system, mode) as m:
            metrics = SCENARIOS[scenario](m, params)
    except Exception as error:  # one failure must not lose the rest of the run
        print(f"{label}: FAILED {error}", flush=True)
        results["errors"].append(
            {
                "scenario": scenario,
                "system": system.name,
                "broker": mode,
                "rep": rep,
                "error": repr(error),
                "traceback": traceback.format_exc(limit=5),
            }
        )
        return
    elapsed = time.monotonic() - began
    print(f"{label}: {report.headline(scenario, metrics)}  ({elapsed:.0f} s)", flush=True)
    results["measurements"].append(
        {
            "scenario": scenario,
            "system": system.name,
            "broker": mode,
            "rep": rep,
            "seconds": elapsed,
            "metrics": metrics,
        }
    )


def summarize(measurements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The median of every numeric metric over the repetitions of each measurement."""
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for item in measurements:
        groups.setdefault((item["scenario"], item["system"], item["broker"]), []).append(item["metrics"])
    return [
        {"scenario": s, "system": name, "broker": mode, "metrics": _median(runs)}
        for (s, name, mode), runs in groups.items()
    ]


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run.get(key) for run in runs]
        if isinstance(first, dict):
            merged[key] = _median([value for value in values if isinstance(value, dict)])
        elif isinstance(first, bool | str):
            merged[key] = first if len(set(map(repr, values))) == 1 else values
        else:
            # A repetition may lack a figure (no job started in its window): the median is
            # over the repetitions that have it.
            numbers = [v for v in values if _is_figure(v)]
            merged[key] = statistics.median(numbers) if numbers else None
    return merged


def _is_figure(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
