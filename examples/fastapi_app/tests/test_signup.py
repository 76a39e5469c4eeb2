"""Signup: the welcome email is a durable job, sent once per address."""

from __future__ import annotations

import httpx
from workhorse.testing import WorkhorseEnv

from app.tasks import Mailer, send_welcome_email, wh


async def test_signup_twice_sends_one_welcome_email(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    for _ in range(2):
        response = await client.post("/signup", json={"email": "ada@example.com"})
        assert response.status_code == 201

    await workhorse_env.drain()

    mailer: Mailer = wh.resources["mailer"]
    assert mailer.sent == [("ada@example.com", "Welcome!")]


async def test_welcome_job_is_committed_when_signup_answers(
    client: httpx.AsyncClient, workhorse_env: WorkhorseEnv
) -> None:
    response = await client.post("/signup", json={"email": "grace@example.com"})
    assert response.status_code == 201

    # The same key finds the job the signup committed: no second job is made.
    job = await send_welcome_email.enqueue("grace@example.com")
    info = job.enqueued
    assert info is not None
    assert info.key == "welcome:grace@example.com"
    assert (await job.result(timeout=10)) == {"sent_to": "grace@example.com"}


async def test_signup_refuses_a_bad_address(client: httpx.AsyncClient) -> None:
    response = await client.post("/signup", json={"email": "not-an-address"})
    assert response.status_code == 422
