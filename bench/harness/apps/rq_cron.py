"""RQ cron configuration (scenario 6): `tick` every second on the bench queue."""

from rq import cron

from harness.apps.rq_app import QUEUE, tick

cron.register(tick, queue_name=QUEUE, interval=1)
