"""An app's schedules are owned by its name: the worker declares the whole set, so a
`@wh.cron` removed from the code is deleted from the server, while schedules made at run
time (`wh.set_schedule`) and other apps' survive. And the task's options reach the jobs a
schedule makes. Against both servers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from workhorse import ApiError, Backoff, Workhorse
from workhorse.testing import WorkhorseEnv


def nightly_report() -> None:
    """A task for the apps below."""


def hourly_sync() -> None:
    """A task for the apps below."""


def idle() -> None:
    """The task every version of the app below has, with no schedule."""


def invoices() -> None:
    """A task for the apps below."""


def shop(
    url: str, crons: dict[str, Callable[[], None]], name: str = "shop"
) -> Workhorse:
    """A fresh version of the app `name` (a deploy), with a `@wh.cron` for each of
    `crons` (schedule name: task function), and one task without a schedule."""
    app = Workhorse(url, name=name)
    app.task(name="shop.idle")(idle)
    for schedule, fn in crons.items():
        app.cron("0 3 * * *", name=schedule)(app.task(name=f"shop.{fn.__name__}")(fn))
    return app


def owners(app: Workhorse) -> dict[str, str | None]:
    return {s.name: s.owner for s in app.list_schedules_sync()}


async def test_a_removed_cron_is_deleted_and_runtime_and_other_apps_schedules_survive(
    server_url: str,
) -> None:
    billing = Workhorse(server_url, name="billing")
    billing.cron("0 1 * * *")(billing.task(name="billing.invoices")(invoices))
    await billing.declare_schedules()
    first = shop(server_url, {"report": nightly_report, "sync": hourly_sync})
    await first.set_schedule("by-hand", task="shop.idle", every=60)
    await first.declare_schedules()
    assert owners(first) == {
        "billing.invoices": "billing",
        "by-hand": None,
        "report": "shop",
        "sync": "shop",
    }

    second = shop(server_url, {"report": nightly_report})
    stored = await second.declare_schedules()
    assert list(stored) == ["report"]
    assert owners(second) == {
        "billing.invoices": "billing",
        "by-hand": None,
        "report": "shop",
    }

    # Removing the last cron removes it from the server: the empty set is declared too.
    third = shop(server_url, {})
    assert third.declare_schedules_sync() == {}
    assert owners(third) == {"billing.invoices": "billing", "by-hand": None}


def test_the_worker_declares_its_apps_set_and_logs_the_owner(
    server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workhorse")
    first = shop(server_url, {"report": nightly_report})
    with WorkhorseEnv(first, url=server_url):
        assert owners(first) == {"report": "shop"}
    first.set_schedule_sync("by-hand", task="shop.idle", every=60)
    second = shop(server_url, {})
    with WorkhorseEnv(second, url=server_url):
        assert owners(second) == {"by-hand": None}
    declared = [r.getMessage() for r in caplog.records if "as owner" in r.getMessage()]
    assert declared == [
        "declared 1 schedule(s) as owner 'shop'",
        "declared 0 schedule(s) as owner 'shop'",
    ]


def test_a_name_held_by_another_owner_or_made_at_run_time_is_refused(
    server_url: str,
) -> None:
    billing = Workhorse(server_url, name="billing")
    billing.cron("0 1 * * *", name="report")(billing.task(name="invoices")(invoices))
    billing.declare_schedules_sync()
    app = shop(server_url, {"report": nightly_report})
    with pytest.raises(ApiError, match='"report" is declared by "billing"') as caught:
        app.declare_schedules_sync()
    assert caught.value.status == 409
    app.set_schedule_sync("sync", task="shop.idle", every=60)
    with pytest.raises(ApiError, match="made at run time") as caught:
        shop(server_url, {"sync": hourly_sync}).declare_schedules_sync()
    assert caught.value.status == 409
    assert owners(app) == {"report": "billing", "sync": None}


def test_the_default_name_is_the_module_of_the_first_task() -> None:
    app = Workhorse("http://127.0.0.1:9")
    assert app.name is None
    app.task(nightly_report)
    assert app.name == __name__
    assert Workhorse("http://127.0.0.1:9", name="shop").name == "shop"


def test_a_cron_task_with_a_key_is_refused_naming_the_task() -> None:
    app = Workhorse("http://127.0.0.1:9", name="shop")
    keyed = app.task(key="one")(nightly_report)
    with pytest.raises(
        ValueError, match="task 'tests.test_schedule_sets.nightly_report'"
    ):
        app.cron("0 3 * * *")(keyed)
    assert not app.schedules


async def test_the_jobs_a_schedule_makes_carry_the_tasks_options(
    server_url: str,
) -> None:
    app = Workhorse(server_url, name="shop")
    report = app.task(
        name="shop.report",
        backoff=Backoff(base=2, max=60),
        expires=600,
        concurrency_key="reports",
        concurrency_limit=2,
        metadata={"team": "billing"},
        retries=4,
    )(nightly_report)
    app.cron("0 3 * * *")(report)
    stored = await app.declare_schedules()
    definition = stored["shop.report"]["definition"]
    assert definition["backoff"] == {"base_ms": 2000, "max_ms": 60000}
    assert definition["expires_ms"] == 600_000
    assert definition["concurrency_limit"] == 2
    assert definition["max_attempts"] == 5

    fire = await app.trigger_schedule("shop.report")
    assert fire.job_id is not None
    info = await app.job(fire.job_id).status()
    assert info.concurrency_key == "reports"
    assert info.metadata == {"team": "billing"}
    assert info.expires_at is not None
    assert (info.expires_at - fire.fire_at).total_seconds() == 600
