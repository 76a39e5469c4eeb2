"""pytest set-up: the Workhorse fixtures (an in-process server and worker)."""

pytest_plugins = ["workhorse.testing"]
