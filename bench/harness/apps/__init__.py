"""One module per system: its tasks (what the worker processes import) and its producer
(what `python -m harness.produce` drives). Each is imported only by that system's venv."""
