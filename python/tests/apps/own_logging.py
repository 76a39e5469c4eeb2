"""An app that configures logging itself when imported, as many apps do: the worker must
keep its handler (and not add one of its own)."""

from __future__ import annotations

import logging
import os

from workhorse import JobContext, Workhorse

logging.basicConfig(
    filename=os.environ["OWN_LOG_FILE"],
    format="OWN %(levelname)s %(message)s job=%(job_id)s",
    level=logging.INFO,
)

wh = Workhorse()


@wh.task
async def says_hello(ctx: JobContext) -> None:
    ctx.logger.info("hello from the app's own logging")
