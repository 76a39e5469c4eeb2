"""Writing a run's results: `<date>.json` (everything), `<date>.md` (tables with ratios
Workhorse / peer), one chart per scenario `<date>-scenarioN.png`, and `latest.md`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.scenarios import TITLES

REFERENCE = "workhorse-python"
Row = dict[str, Any]


def headline(scenario: int, m: dict[str, Any]) -> str:
    """One line for the console."""
    if scenario == 1:
        capped = " (capped)" if m.get("capped") else ""
        return f"{m['jobs_per_second']:,.0f} jobs/s over {m['jobs']:,} jobs{capped}"
    if scenario == 2:
        return f"single {m['single_jobs_per_second']:,.0f}/s, batch {m['batch_jobs_per_second']:,.0f}/s"
    if scenario == 3:
        return ", ".join(
            f"{rate}/s: p50 {v.get('p50_ms', math.nan):.1f} ms p99 {v.get('p99_ms', math.nan):.1f} ms"
            for rate, v in m.items()
        )
    if scenario == 4:
        return (
            f"in flight {m['in_flight_at_kill']}, rerun {m['rerun']} (max {_num(m['rerun_max_s'], 's')}), "
            f"lost {m['lost']} within {m['window_s']:.0f} s"
        )
    if scenario == 5:
        return f"RSS {m['rss_mb']:,.0f} MB, disk {m['disk_mb']:,.0f} MB for {m['jobs']:,} jobs"
    return (
        f"fires {m['fires']} in {m['window_s']} s, duplicates {m['duplicates']}, missed {m['missed_seconds']}"
    )


def write(results: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = results["date"] + ("-quick" if results["quick"] else "")
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    charts = _charts(results, out, stem)
    md_path = out / f"{stem}.md"
    md_path.write_text(markdown(results, charts))
    latest = out / "latest.md"
    latest.write_text(
        f"# Latest benchmark results\n\nThe newest run is [{stem}]({stem}.md) "
        f"(data: [{stem}.json]({stem}.json)).\n"
    )
    return [json_path, md_path, *charts.values(), latest]


# -- markdown --------------------------------------------------------------------------------


def _rows(results: dict[str, Any], scenario: int) -> list[Row]:
    return [row for row in results["summary"] if row["scenario"] == scenario]


def _reference(rows: list[Row]) -> dict[str, Any] | None:
    return next((row["metrics"] for row in rows if row["system"] == REFERENCE), None)


def _num(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, list):
        return "/".join(_num(v, unit, digits) for v in value)
    return f"{value:,.{digits}f}{(' ' + unit) if unit else ''}"


def _ratio(ours: Any, theirs: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or not theirs:
        return "—"
    return f"{ours / theirs:,.1f}×" if ours / theirs >= 1 else f"{ours / theirs:,.2f}×"


def _table(header: list[str], lines: list[list[str]]) -> str:
    rule = ["---"] + ["---:"] * (len(header) - 1)
    body = [header, rule, *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in body) + "\n"


def _drain(rows: list[Row]) -> str:
    ref = _reference(rows)
    lines = []
    for row in sorted(rows, key=lambda r: -r["metrics"]["jobs_per_second"]):
        m = row["metrics"]
        capped = " (capped)" if m.get("capped") is True else ""
        lines.append(
            [
                row["system"],
                row["broker"],
                _num(m["jobs_per_second"]) + capped,
                _num(m["jobs"]),
                _num(m["seconds"], "s", 1),
                _ratio(ref and ref["jobs_per_second"], m["jobs_per_second"]),
            ]
        )
    return _table(
        ["system", "broker", "jobs/s", "jobs", "first start → last end", "Workhorse-python / this"], lines
    )


def _enqueue(rows: list[Row]) -> str:
    ref = _reference(rows) or {}
    lines = []
    for row in sorted(rows, key=lambda r: -r["metrics"]["batch_jobs_per_second"]):
        m = row["metrics"]
        lines.append(
            [
                row["system"],
                row["broker"],
                _num(m["single_jobs_per_second"]),
                _num(m["batch_jobs_per_second"]),
                _ratio(ref.get("single_jobs_per_second"), m["single_jobs_per_second"]),
                _ratio(ref.get("batch_jobs_per_second"), m["batch_jobs_per_second"]),
            ]
        )
    return _table(
        [
            "system",
            "broker",
            "single calls, jobs/s",
            "batches, jobs/s",
            "Workhorse-python / this (single)",
            "(batches)",
        ],
        lines,
    )


def _latency(rows: list[Row]) -> str:
    ref = _reference(rows) or {}
    lines = []
    for row in rows:
        for rate, m in row["metrics"].items():
            lines.append(
                [
                    row["system"],
                    row["broker"],
                    rate,
                    _num(m.get("achieved_rate")),
                    f"{_num(m.get('started'))}/{_num(m.get('jobs'))}",
                    _num(m.get("p50_ms"), "", 1),
                    _num(m.get("p95_ms"), "", 1),
                    _num(m.get("p99_ms"), "", 1),
                    _num(m.get("max_ms"), "", 1),
                    _ratio(m.get("p99_ms"), ref.get(rate, {}).get("p99_ms")),
                ]
            )
    return _table(
        [
            "system",
            "broker",
            "target/s",
            "achieved/s",
            "started",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "this p99 / Workhorse-python p99 (Workhorse N× lower)",
        ],
        lines,
    )


def _kill(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        m = row["metrics"]
        lines.append(
            [
                row["system"],
                _num(m["in_flight_at_kill"]),
                _num(m["rerun"]),
                _num(m["rerun_p50_s"], "s", 2),
                _num(m["rerun_max_s"], "s", 2),
                _num(m["lost"]),
                _num(m["window_s"], "s"),
                _num(m["executed_twice_not_killed"]),
            ]
        )
    return _table(
        [
            "system",
            "in flight at kill",
            "run again",
            "time to run again p50",
            "max",
            "not completed within the window",
            "window",
            "other jobs run twice",
        ],
        lines,
    )


def _memory(rows: list[Row]) -> str:
    ref = _reference(rows) or {}
    lines = []
    for row in rows:
        m = row["metrics"]
        lines.append(
            [
                row["system"].split("-")[0],
                _num(m["jobs"]),
                _num(m["rss_mb"], "MB"),
                _num(m["disk_mb"], "MB"),
                _num(m["rss_bytes_per_job"]),
                _num(m["disk_bytes_per_job"]),
                _ratio(ref.get("rss_mb"), m["rss_mb"]),
                _ratio(ref.get("disk_mb"), m["disk_mb"]),
            ]
        )
    return _table(
        [
            "broker of",
            "waiting jobs",
            "RSS",
            "disk",
            "RSS bytes/job",
            "disk bytes/job",
            "Workhorse / this (RSS)",
            "(disk)",
        ],
        lines,
    )


def _schedule(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        m = row["metrics"]
        lines.append(
            [
                row["system"],
                _num(m["fires"]),
                f"{_num(m['seconds_fired'])}/{m['window_s']}",
                _num(m["duplicates"]),
                _num(m["missed_seconds"]),
                _num(m["offset_p50_ms"], "", 1),
                _num(m["offset_p99_ms"], "", 1),
            ]
        )
    return _table(
        [
            "system",
            "fires",
            "seconds with a fire",
            "duplicates",
            "missed seconds",
            "start offset in the second p50 ms",
            "p99 ms",
        ],
        lines,
    )


TABLES: dict[int, Callable[[list[Row]], str]] = {
    1: _drain,
    2: _enqueue,
    3: _latency,
    4: _kill,
    5: _memory,
    6: _schedule,
}


def _repetition_text(results: dict[str, Any]) -> str:
    policy = results.get("repetition_policy")
    return policy or f"Values are the median of {results['repetitions']} repetition(s)."


def _runs_text(results: dict[str, Any]) -> str:
    machine = results["machine"]
    runs = results.get("runs")
    if not runs:
        return (
            f"Command: `{results['command'].strip()}`. Machine: {machine['cores']} cores "
            f"({machine['cpu']}), {machine['memory_gb']} GiB, load average "
            f"{_load(machine['load_before'])} before, {_load(machine.get('load_after'))} after."
        )
    listed = "; ".join(
        f"`{run['command'].strip()}` at {run['date']} (build {run['build']}, scenarios "
        f"{run['scenarios']}, load average "
        f"{_load(run['load_before'])} before, {_load(run['load_after'])} after)"
        for run in runs
    )
    replaced = "".join(
        f" Scenario {item['measurement'][0]}, {item['measurement'][1]}: measured again in a later "
        f"run, which replaces run {item['run']}'s figures."
        for item in results.get("replaced", [])
    )
    return (
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GiB. "
        f"Made of {len(runs)} runs, each measurement taken in one of them: {listed}.{replaced}"
    )


def markdown(results: dict[str, Any], charts: dict[int, Path]) -> str:
    parts = [
        f"# Benchmark {results['date']}{' (quick)' if results['quick'] else ''}\n",
        f"{_runs_text(results)} {results['settings']['worker_processes']} worker "
        f"processes per system. {_repetition_text(results)} "
        f"Run time {results.get('wall_seconds', 0) / 60:.1f} min. Settings, versions and every "
        "measurement are in the JSON file beside this one; the method is in bench/README.md.\n",
        "Brokers: `workhorse` = Workhorse server, SQLite, fsync per group commit; `redis-always` / "
        "`redis-everysec` = Redis with AOF `appendfsync always` / `everysec`.\n",
    ]
    for scenario, title in TITLES.items():
        rows = _rows(results, scenario)
        if not rows:
            continue
        parts.append(f"## {scenario}. {title}\n")
        parts.append(TABLES[scenario](rows))
        if scenario in charts:
            parts.append(f"\n![scenario {scenario}]({charts[scenario].name})\n")
    if results["errors"]:
        parts.append("## Failed measurements\n")
        parts.extend(
            f"- scenario {e['scenario']}, {e['system']} ({e['broker']}): `{e['error'][:300]}`\n"
            for e in results["errors"]
        )
    return "\n".join(parts)


def _load(load: Any) -> str:
    return "/".join(f"{value:.2f}" for value in load) if load else "—"


# -- charts ----------------------------------------------------------------------------------


def _charts(results: dict[str, Any], out: Path, stem: str) -> dict[int, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = {}
    for scenario, (label, series) in _chart_series(results).items():
        if not series:
            continue
        names = list(series)
        keys = list(next(iter(series.values())))
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) * max(1, len(keys)) + 1.5))
        height = 0.8 / len(keys)
        for index, key in enumerate(keys):
            values = [series[name].get(key) or 0 for name in names]
            positions = [i + index * height for i in range(len(names))]
            bars = ax.barh(positions, values, height=height, label=key)
            ax.bar_label(
                bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:,.2f}" for v in values], padding=3, fontsize=8
            )
        ax.set_yticks([i + height * (len(keys) - 1) / 2 for i in range(len(names))], names)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_title(f"{scenario}. {TITLES[scenario]}")
        if len(keys) > 1:
            ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        path = out / f"{stem}-scenario{scenario}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        charts[scenario] = path
    return charts


def _chart_series(results: dict[str, Any]) -> dict[int, tuple[str, dict[str, dict[str, float]]]]:
    charts: dict[int, tuple[str, dict[str, dict[str, float]]]] = {
        1: ("jobs/s (higher is better)", {}),
        2: ("jobs/s (higher is better)", {}),
        3: ("p99 start latency, ms (lower is better)", {}),
        4: ("jobs of the killed worker", {}),
        5: ("MB with the waiting jobs", {}),
        6: ("fires in the window", {}),
    }
    for row in results["summary"]:
        name = f"{row['system']} ({row['broker']})"
        m = row["metrics"]
        scenario = row["scenario"]
        if scenario == 1:
            charts[1][1][name] = {"jobs/s": m["jobs_per_second"]}
        elif scenario == 2:
            charts[2][1][name] = {
                "single calls": m["single_jobs_per_second"],
                "batches": m["batch_jobs_per_second"],
            }
        elif scenario == 3:
            charts[3][1][name] = {f"{rate}/s": v.get("p99_ms") or 0 for rate, v in m.items()}
        elif scenario == 4:
            charts[4][1][row["system"]] = {
                "in flight at kill": m["in_flight_at_kill"],
                "run again": m["rerun"],
                "not completed": m["lost"],
            }
        elif scenario == 5:
            charts[5][1][row["system"].split("-")[0]] = {"RSS": m["rss_mb"], "disk": m["disk_mb"]}
        else:
            charts[6][1][row["system"]] = {
                "fires": m["fires"],
                "duplicates": m["duplicates"],
                "missed seconds": m["missed_seconds"],
            }
    return charts


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result made of runs that measured different things (a full run done in parts):
    their measurements side by side, each run's command, build and load listed. What a
    later run (in the order given) measured again replaces the earlier figures; the
    replaced ones are listed in `replaced`."""
    loaded = [json.loads(path.read_text()) for path in paths]
    key = _measurement_key
    latest = {key(row): index for index, result in enumerate(loaded) for row in result["summary"]}
    kept = [
        [row for row in result["summary"] if latest[key(row)] == index] for index, result in enumerate(loaded)
    ]
    return {
        **loaded[0],
        "date": f"{min(result['date'] for result in loaded)}-full",
        "command": " + ".join(result["command"] for result in loaded),
        "runs": [_run_of(result, rows) for result, rows in zip(loaded, kept, strict=True)],
        "replaced": [
            {"run": result["date"], "measurement": list(key(row))}
            for index, result in enumerate(loaded)
            for row in result["summary"]
            if latest[key(row)] != index
        ],
        "wall_seconds": sum(result.get("wall_seconds", 0) for result in loaded),
        "measurements": [
            m
            for index, result in enumerate(loaded)
            for m in result["measurements"]
            if latest[key(m)] == index
        ],
        "summary": [row for rows in kept for row in rows],
        "errors": [e for result in loaded for e in result["errors"]],
    }


def _measurement_key(row: dict[str, Any]) -> tuple[int, str, str]:
    return (row["scenario"], row["system"], row["broker"])


def _run_of(result: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "command": result["command"],
        "date": result["date"],
        "build": result["versions"].get("workhorse-commit", "not recorded"),
        "scenarios": ",".join(str(n) for n in sorted({row["scenario"] for row in rows})),
        "load_before": result["machine"]["load_before"],
        "load_after": result["machine"].get("load_after"),
        "wall_seconds": result.get("wall_seconds"),
    }


def main() -> None:
    """`python -m harness.report results/<date>.json` renders the markdown and charts again;
    `python -m harness.report --merge A.json B.json ...` writes `<first date>-full.*` from
    runs that measured different things (later runs' figures replace earlier ones)."""
    import sys

    args = sys.argv[1:]
    if args and args[0] == "--merge":
        paths = [Path(arg) for arg in args[1:]]
        write(merge(paths), paths[0].parent)
        return
    path = Path(args[0])
    write(json.loads(path.read_text()), path.parent)


if __name__ == "__main__":
    main()
