"""The systems compared: how each one's worker, scheduler and producer processes are
started, and every setting that differs from its defaults (written into the results).

Worker processes: `WORKER_PROCESSES` processes run tasks in every system. Slots per
process: 100 for asyncio workers (Workhorse's and taskiq's default), 8 threads for thread
pools (Dramatiq's default), 1 for prefork Celery and RQ (one job per process is their model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WORKER_PROCESSES = 2
ASYNC_SLOTS = 100
THREAD_SLOTS = 8
BENCH = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Command:
    """One process to start: its name, argv and extra environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


InstanceFactory = Callable[[str, int], Command]
"""(python, slots per process) -> one worker instance (a process and what it forks)."""


@dataclass(frozen=True)
class System:
    """A system under test. `instance` starts one worker instance; `instances` of them
    (each running `processes_per_instance` task processes) make the worker fleet."""

    name: str
    family: str
    broker: str
    venv: str
    app: str
    slots: int
    instances: int
    processes_per_instance: int
    instance: InstanceFactory
    schedulers: Callable[[str, Path], list[Command]]
    settings: dict[str, object]
    covers: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

    def python(self) -> str:
        return str(BENCH / self.venv / "bin" / "python")

    def workers(self, slots: int | None = None) -> list[Command]:
        return [self._numbered(i, slots) for i in range(self.instances)]

    def _numbered(self, index: int, slots: int | None) -> Command:
        command = self.instance(self.python(), slots or self.slots)
        return Command(f"{command.name}-{index}", [*command.argv, *self._node(index)], command.env)

    def _node(self, index: int) -> list[str]:
        return ["-n", f"w{index}@%h"] if self.family == "celery" else []


def _workhorse_instance(python: str, slots: int) -> Command:
    argv = [
        python,
        "-m",
        "workhorse",
        "worker",
        "harness.apps.wh_app:wh",
        "--concurrency",
        str(slots),
        "--log-level",
        "warning",
    ]
    return Command("workhorse-worker", argv)


def _workhorse_schedulers(python: str, _: Path) -> list[Command]:
    instance = _workhorse_instance(python, ASYNC_SLOTS)
    return [Command(f"workhorse-declarer-{i}", instance.argv, {"BENCH_SCHEDULE": "1"}) for i in range(3)]


def _celery_instance(pool: str, processes: int) -> InstanceFactory:
    def instance(python: str, slots: int) -> Command:
        concurrency = processes if pool == "prefork" else slots
        argv = [
            python,
            "-m",
            "celery",
            "-A",
            "harness.apps.celery_app",
            "worker",
            "-P",
            pool,
            "-c",
            str(concurrency),
            "-Q",
            "bench",
            "--loglevel",
            "WARNING",
        ]
        return Command(f"celery-{pool}", argv)

    return instance


def _celery_schedulers(python: str, run_dir: Path) -> list[Command]:
    return [
        Command(
            f"celery-beat-{i}",
            [
                python,
                "-m",
                "celery",
                "-A",
                "harness.apps.celery_app",
                "beat",
                "-s",
                str(run_dir / f"celerybeat-{i}"),
                "--loglevel",
                "WARNING",
            ],
        )
        for i in range(3)
    ]


def _dramatiq_instance(python: str, slots: int) -> Command:
    argv = [
        python,
        "-m",
        "dramatiq",
        "harness.apps.dramatiq_app",
        "--processes",
        "1",
        "--threads",
        str(slots),
        "--queues",
        "bench",
    ]
    return Command("dramatiq", argv)


def _dramatiq_schedulers(python: str, _: Path) -> list[Command]:
    return [Command(f"apscheduler-{i}", [python, "-m", "harness.apps.dramatiq_app"]) for i in range(3)]


def _taskiq_instance(python: str, slots: int) -> Command:
    argv = [
        python,
        "-m",
        "taskiq",
        "worker",
        "harness.apps.taskiq_app:broker",
        "--workers",
        "1",
        "--max-async-tasks",
        str(slots),
    ]
    return Command("taskiq", argv)


def _taskiq_schedulers(python: str, _: Path) -> list[Command]:
    argv = [python, "-m", "taskiq", "scheduler", "harness.apps.taskiq_app:scheduler"]
    return [Command(f"taskiq-scheduler-{i}", argv) for i in range(3)]


def _arq_instance(python: str, slots: int) -> Command:
    argv = [python, "-m", "arq", "harness.apps.arq_app.WorkerSettings"]
    return Command("arq", argv, {"BENCH_SLOTS": str(slots)})


def _arq_schedulers(python: str, _: Path) -> list[Command]:
    argv = [python, "-m", "arq", "harness.apps.arq_app.ScheduleSettings"]
    return [Command(f"arq-cron-{i}", argv, {"BENCH_SLOTS": str(ASYNC_SLOTS)}) for i in range(3)]


def _rq_instance(python: str, _: int) -> Command:
    return Command(
        "rq", [python, "-m", "rq.cli", "worker", "bench", "--url", "{broker}", "--logging_level", "WARNING"]
    )


def _rq_schedulers(python: str, _: Path) -> list[Command]:
    argv = [
        python,
        "-m",
        "rq.cli",
        "cron",
        "harness.apps.rq_cron",
        "--url",
        "{broker}",
        "--logging-level",
        "WARNING",
    ]
    return [Command(f"rq-cron-{i}", argv) for i in range(3)]


def _no_schedulers(python: str, _: Path) -> list[Command]:
    return []


CELERY_SETTINGS = {
    "broker": "Redis (kombu), no result backend (task_ignore_result=True)",
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "visibility_timeout_s": 3600,
    "schedule": "celery beat x3, beat_schedule interval 1.0 s",
}

SYSTEMS: dict[str, System] = {
    system.name: system
    for system in [
        System(
            "workhorse-python",
            "workhorse",
            "workhorse",
            ".venv",
            "harness.apps.wh_app",
            ASYNC_SLOTS,
            WORKER_PROCESSES,
            1,
            _workhorse_instance,
            _workhorse_schedulers,
            {
                "worker": "workhorse worker --concurrency 100 (async tasks), one process each",
                "schedule": "@wh.every(seconds=1) declared by 3 worker processes",
            },
        ),
        System(
            "workhorse-rust",
            "workhorse",
            "workhorse",
            ".venv",
            "",
            128,
            1,
            1,
            _workhorse_instance,
            _no_schedulers,
            {
                "tool": "workhorse bench (Rust producer and 2 Rust worker sessions, concurrency "
                "128 each, in the bench process)",
                "scenarios": "1, 2, 3 (4-6 are server behaviour, measured with Python workers)",
            },
            covers=(1, 2, 3),
        ),
        System(
            "celery-prefork",
            "celery",
            "redis",
            ".venv",
            "harness.apps.celery_app",
            1,
            1,
            WORKER_PROCESSES,
            _celery_instance("prefork", WORKER_PROCESSES),
            _celery_schedulers,
            {**CELERY_SETTINGS, "worker": "celery worker -P prefork -c 2 (one instance, 2 pool processes)"},
        ),
        System(
            "celery-threads",
            "celery",
            "redis",
            ".venv",
            "harness.apps.celery_app",
            THREAD_SLOTS,
            WORKER_PROCESSES,
            1,
            _celery_instance("threads", 1),
            _celery_schedulers,
            {**CELERY_SETTINGS, "worker": "celery worker -P threads -c 8, one process each"},
        ),
        System(
            "dramatiq",
            "dramatiq",
            "redis",
            ".venv",
            "harness.apps.dramatiq_app",
            THREAD_SLOTS,
            WORKER_PROCESSES,
            1,
            _dramatiq_instance,
            _dramatiq_schedulers,
            {
                "broker": "RedisBroker, heartbeat_timeout 60 s (default), default middleware",
                "worker": "dramatiq --processes 1 --threads 8, per instance",
                "schedule": "APScheduler BlockingScheduler CronTrigger(second='*') x3 sending the actor",
            },
        ),
        System(
            "taskiq",
            "taskiq",
            "redis",
            ".venv",
            "harness.apps.taskiq_app",
            ASYNC_SLOTS,
            WORKER_PROCESSES,
            1,
            _taskiq_instance,
            _taskiq_schedulers,
            {
                "broker": "taskiq-redis RedisStreamBroker (acks; idle_timeout 600 s, xread_count 100)",
                "worker": "taskiq worker --workers 1 --max-async-tasks 100, ack when_saved (default)",
                "schedule": "taskiq scheduler x3, LabelScheduleSource interval 1 s",
            },
        ),
        System(
            "arq",
            "arq",
            "redis",
            ".venv-arq",
            "harness.apps.arq_app",
            ASYNC_SLOTS,
            WORKER_PROCESSES,
            1,
            _arq_instance,
            _arq_schedulers,
            {
                "worker": "arq WorkerSettings, max_jobs 100, other settings default (job timeout 300 s, "
                "keep_result 3600 s)",
                "schedule": "cron(second=every second) in 3 workers (cron jobs unique by default)",
                "venv": "its own (arq 0.28 needs redis<6; taskiq-redis needs redis>=8)",
            },
        ),
        System(
            "rq",
            "rq",
            "redis",
            ".venv",
            "harness.apps.rq_app",
            1,
            WORKER_PROCESSES,
            1,
            _rq_instance,
            _rq_schedulers,
            {
                "worker": "rq worker (default Worker: forks a work horse per job), one job at a time",
                "schedule": "rq cron x3 (RQ's own scheduler), cron.register(interval=1)",
            },
        ),
    ]
}


def with_broker(command: Command, broker_url: str) -> Command:
    return Command(command.name, [arg.replace("{broker}", broker_url) for arg in command.argv], command.env)
