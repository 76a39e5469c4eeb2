"""The example service: a FastAPI app (`app.main`) and its Workhorse tasks (`app.tasks`)."""
