"""Declaring tasks and schedules, and the documents enqueues send (no server needed)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.apps import basic
from workhorse import (
    ArgumentNotSerializable,
    Backoff,
    JobContext,
    JobInfo,
    JobState,
    Progress,
    Task,
    UnknownTask,
    Workhorse,
    WorkhorseError,
)
from workhorse.context import LocalJobLink
from workhorse.jobs import parse_time
from workhorse.tasks import encode


def request_of(task: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return task.call(*args, **kwargs).request()  # type: ignore[no-any-return]


def test_task_names_default_to_module_and_qualname() -> None:
    assert basic.add.name == "tests.apps.basic.add"
    assert basic.send_email.name == "emails.send"
    assert set(basic.wh.tasks) >= {"tests.apps.basic.add", "emails.send"}


def test_a_task_is_still_a_plain_call() -> None:
    assert basic.multiply(3, 4) == 12
    assert isinstance(basic.multiply, Task)
    assert basic.multiply.__name__ == "multiply"


async def test_a_direct_call_gets_a_local_context() -> None:
    assert basic.square(n=5)["square"] == 25
    assert basic.square(5)["job_id"] == "local"
    link = LocalJobLink()
    ctx = JobContext(
        link,
        job_id="j",
        task="t",
        queue="q",
        attempt=1,
        max_attempts=1,
        resources=basic.wh.resources,
    )
    basic.gates["direct"].set()
    assert await basic.waits_at_gate(ctx, "direct") == "direct"  # type: ignore[arg-type, call-arg]
    assert link.reports == [(0.5, "halfway")]


def test_the_context_parameter_is_not_an_argument() -> None:
    assert request_of(basic.waits_at_gate, "g") == {
        "task": basic.waits_at_gate.name,
        "args": ["g"],
    }
    with pytest.raises(
        TypeError, match="waits_at_gate.*missing a required argument: 'gate'"
    ):
        basic.waits_at_gate.call()  # type: ignore[call-arg]


def _no_args() -> None: ...
def _two(a: int, b: int) -> None: ...
def _defaults(a: int, b: int = 1, *, c: int = 2) -> None: ...
def _star(a: int, *rest: int) -> None: ...
def _keyword_only(a: int, *, b: int) -> None: ...
def _positional_only(a: int, /, b: int = 0, **extra: int) -> None: ...
def _with_context(ctx: JobContext, a: int) -> None: ...


@pytest.mark.parametrize(
    "fn",
    [_no_args, _two, _defaults, _star, _keyword_only, _positional_only, _with_context],
)
@pytest.mark.parametrize("count", range(5))
def test_argument_checks_agree_with_the_signature(fn: Any, count: int) -> None:
    """Calls without keywords skip `inspect.Signature.bind` (it dominated an enqueue's
    cost); they must accept and refuse exactly what binding does."""
    task = Workhorse().task(fn)
    args = tuple(range(count))
    try:
        task._call_signature.bind(*args)
    except TypeError:
        with pytest.raises(TypeError, match=task.name):
            task.call(*args)
    else:
        assert task.call(*args).request().get("args", []) == list(args)


def test_task_options_become_the_enqueue_document() -> None:
    wh = Workhorse()

    @wh.task(
        queue="emails",
        priority=7,
        retries=5,
        timeout=30,
        backoff=Backoff(base=2, max=timedelta(minutes=10)),
        key=lambda email: f"welcome:{email}",
        key_window=timedelta(hours=1),
        concurrency_key="smtp",
        concurrency_limit=3,
    )
    async def welcome(email: str) -> None: ...

    assert request_of(welcome, "a@b.c") == {
        "task": welcome.name,
        "args": ["a@b.c"],
        "queue": "emails",
        "priority": 7,
        "max_attempts": 6,
        "backoff": {"base_ms": 2000, "max_ms": 600_000},
        "timeout_ms": 30_000,
        "key": "welcome:a@b.c",
        "key_window_ms": 3_600_000,
        "concurrency_key": "smtp",
        "concurrency_limit": 3,
    }


def test_options_override_the_task_defaults_per_call() -> None:
    configured = basic.send_email.options(
        delay=timedelta(seconds=1.5), priority=2, key="k"
    )
    assert request_of(configured, "a@b.c", subject="yo") == {
        "task": "emails.send",
        "args": ["a@b.c"],
        "kwargs": {"subject": "yo"},
        "queue": "emails",
        "priority": 2,
        "delay_ms": 1500,
        "key": "k",
    }
    later = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    document = request_of(
        basic.add.options(run_at=later, metadata={"by": "test"}), 1, 2
    )
    assert document["run_at"] == "2030-01-02T01:04:05Z"
    assert document["metadata"] == {"by": "test"}
    expires = request_of(basic.add.options(expires=60), 1, 2)["expires_at"]
    assert parse_time(expires) - datetime.now(timezone.utc) > timedelta(seconds=50)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delay": 1, "run_at": datetime.now(timezone.utc)}, "delay or run_at"),
        ({"run_at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"priority": 12}, "priority must be 0-9"),
        ({"retries": -1}, "retries must not be negative"),
        ({"delay": -5}, "delay must not be negative"),
    ],
)
def test_bad_options_are_refused_before_sending(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        request_of(basic.add.options(**options), 1, 2)


def test_an_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="retry"):
        basic.add.options(retry=3)


def test_arguments_that_are_not_json_name_the_argument() -> None:
    call = basic.send_email.call("a@b.c", subject=threading.Lock())  # type: ignore[arg-type]
    with pytest.raises(
        ArgumentNotSerializable, match="argument 'subject' of task 'emails.send'"
    ) as caught:
        encode([call])
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, WorkhorseError)
    with pytest.raises(
        ArgumentNotSerializable, match="argument 'a'.*not JSON serializable"
    ):
        encode([basic.add.call(object(), 2)])  # type: ignore[arg-type]
    with pytest.raises(
        ArgumentNotSerializable, match="argument 'b'.*Out of range float"
    ):
        encode([basic.add.call(1, float("nan"))])  # type: ignore[arg-type]


def test_task_named_lists_the_registered_names() -> None:
    assert basic.wh.task_named("emails.send") is basic.send_email
    with pytest.raises(
        UnknownTask, match=r"no task named 'emails.sned'.*emails\.send"
    ) as caught:
        basic.wh.task_named("emails.sned")
    assert isinstance(caught.value, LookupError)
    assert "tests.apps.basic.add" in caught.value.registered


def test_two_tasks_may_not_share_a_name() -> None:
    wh = Workhorse()

    @wh.task(name="same")
    def one() -> None: ...

    def two() -> None: ...

    with pytest.raises(ValueError, match="already registered"):
        wh.task(name="same")(two)


def test_isolation_is_checked_at_declaration() -> None:
    wh = Workhorse()

    async def coroutine() -> None: ...

    def local_function() -> None: ...

    with pytest.raises(ValueError, match="is async"):
        wh.task(isolation="thread")(coroutine)
    with pytest.raises(ValueError, match="top level of an importable module"):
        wh.task(isolation="process")(local_function)
    with pytest.raises(ValueError, match='"thread" or "process"'):
        wh.task(isolation="fork")(local_function)  # type: ignore[call-overload]
    assert basic.add.isolation == "async"
    assert basic.multiply.isolation == "thread"
    assert basic.square.isolation == "process"


def test_schedules_declared_in_code() -> None:
    nightly = basic.wh.schedules[basic.nightly_cleanup.name]
    assert nightly.definition() == {
        "task": basic.nightly_cleanup.name,
        "cron": "0 3 * * *",
        "timezone": "Europe/Berlin",
    }
    tick = basic.wh.schedules["tick-every-5-minutes"]
    assert tick.definition() == {"task": basic.tick.name, "every_ms": 300_000}


def test_schedule_options_and_mistakes() -> None:
    wh = Workhorse()

    @wh.cron(
        "*/5 * * * *", name="a", args=[1], misfire="all:3", overlap="skip", grace=2
    )
    @wh.task(queue="reports", retries=1, timeout=60)
    def report(n: int) -> None: ...

    assert wh.schedules["a"].definition() == {
        "task": report.name,
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "queue": "reports",
        "args": [1],
        "max_attempts": 2,
        "timeout_ms": 60_000,
        "misfire": {"all": {"max": 3}},
        "grace_ms": 2000,
        "overlap": "skip",
    }
    with pytest.raises(ValueError, match="misfire must be"):
        wh.cron("* * * * *", name="b", misfire="sometimes")(report)
    with pytest.raises(ValueError, match="positive interval"):
        wh.every()(report)
    with pytest.raises(ValueError, match="already declared"):
        wh.every(seconds=10, name="a")(report)


def test_server_times_are_read_at_any_precision() -> None:
    assert parse_time("2026-01-02T03:04:05Z") == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc
    )
    assert parse_time("2026-01-02T03:04:05.123456789Z").microsecond == 123456
    assert parse_time("2026-01-02T03:04:05.5+01:00").utcoffset() == timedelta(hours=1)


def test_a_job_view_becomes_job_info() -> None:
    info = JobInfo.from_view(
        {
            "id": "j1",
            "task": "reports.build",
            "queue": "reports",
            "state": "waiting",
            "priority": 0,
            "args": [1],
            "kwargs": {},
            "attempt": 0,
            "max_attempts": 3,
            "timeout_ms": 1500,
            "progress": {"fraction": 0.25},
            "result": None,
            "errors": [
                {
                    "attempt": 1,
                    "at": "2026-01-02T03:04:05Z",
                    "type": "Boom",
                    "message": "m",
                }
            ],
            "cancel_requested": False,
            "created_at": "2026-01-02T03:04:05Z",
            "run_at": "2026-01-02T03:04:05Z",
            "workflow_id": "w1",
        }
    )
    assert info.state is JobState.WAITING and not info.finished
    assert (info.timeout, info.workflow_id) == (1.5, "w1")
    assert info.progress == Progress(0.25, None)
    assert info.error is not None and str(info.error) == "Boom: m"
    assert (info.started_at, info.finished_at, info.schedule) == (None, None, None)
