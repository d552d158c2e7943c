"""`celery -A backend.jobs worker|beat`: the name ops type for the job workers and the
schedule (what supervisor, compose and the image run). It hands on the Celery app of
app/jobs/worker.py, where the app is built, its jobs discovered and its programs set;
nothing else imports this module (the `run.py jobs` commands live in
backend/job_commands.py), so only Celery builds that app."""

from app.jobs.worker import app

__all__ = ["app"]
