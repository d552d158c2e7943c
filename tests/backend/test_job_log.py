"""`celery -A backend.jobs worker` and `beat` write JSON lines and nothing else (LOG_FORMAT=json):
no banner, no plain-text shutdown message, warnings and stray prints as log lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.jobs.runner import create_celery
from settings import BASE_DIR, Settings

# PostgreSQL (the worker shares the test's database), the schedule on Redis.
from tests.backend.test_jobs import (  # noqa: F401  # pylint: disable=unused-import
    StartProcess,
    backend,
    broker,
    settings_overrides,
    worker_settings,
)
from tests.fixtures.workers import QUEUE, worker_args, worker_env

pytestmark = pytest.mark.slow


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a process's stdout and stderr, each of which must be a JSON object."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} is not JSON: {line!r}\n{text[-3000:]}")
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def the_one(entries: list[dict[str, Any]], needle: str) -> dict[str, Any]:
    found = [entry for entry in entries if needle in entry["message"]]
    assert len(found) == 1, (needle, entries)
    return found[0]


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_worker_and_beat_write_only_json_lines(
    settings: Settings, start_process: StartProcess, tmp_path: Path
) -> None:
    values = worker_settings(
        settings,
        LOG_FORMAT="json",
        EXPORT_CLEANUP_EVERY_SECONDS=1,
        BEAT_SCHEDULE_FILE=tmp_path / "beat-schedule",
    )
    # A message for `--purge` to erase: Celery prints how many it erased (a stray print).
    celery = create_celery(settings)
    try:
        celery.send_task("app.study.tasks.remove_expired_exports", queue=QUEUE)
    finally:
        celery.close()
    worker = start_process("w1", [*worker_args("w1", QUEUE), "--purge"], values)
    worker.wait_for("ready.")
    beat = start_process("beat", ["beat", "--loglevel=INFO"], values)
    worker.wait_for("succeeded in", seconds=30)
    worker.stop()
    beat.stop()

    entries = json_lines(worker.text())
    start = the_one(entries, "starting")["worker"]
    assert start["queues"] == [QUEUE]
    assert "app.study.tasks.run_export" in start["tasks"]
    assert start["concurrency"] == 1
    assert start["transport"].startswith("redis://")
    assert the_one(entries, "Warm shutdown")["logger"] == "celery.apps.worker"
    assert the_one(entries, "Erased 1 message")["logger"] == "celery.redirected"
    if os.geteuid() == 0:  # Celery warns about root before its logging is set up
        assert the_one(entries, "SecurityWarning")["logger"] == "py.warnings"

    beat_entries = json_lines(beat.text())
    beat_start = the_one(beat_entries, "beat starting")["beat"]
    assert "remove-expired-exports" in beat_start["entries"]
    assert beat_start["schedule_file"] == str(tmp_path / "beat-schedule")
    assert any("Sending due task" in entry["message"] for entry in beat_entries)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_python_warnings_are_log_lines_in_the_service_format(log_format: str) -> None:
    code = (
        "import warnings; from app.jobs.programs import log_like_the_service, say;"
        "log_like_the_service(); warnings.warn('a warning from a library');"
        "say('worker: Warm shutdown (MainProcess)')"
    )
    env = worker_env(
        {"APP_ENV": "test", "LOG_FORMAT": log_format, "DATABASE_URL": "sqlite://:memory:"}
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    if log_format == "json":
        entries = json_lines(done.stderr)
        assert the_one(entries, "a warning from a library")["logger"] == "py.warnings"
        assert the_one(entries, "Warm shutdown")["level"] == "INFO"
    else:
        assert len(lines) == 3, done.stderr  # the warning's two lines (text and source), one more
        assert "WARNING py.warnings [-]" in lines[0]
        assert "INFO    celery.apps.worker [-] worker: Warm shutdown" in lines[2]
