"""The shape of the code: app/'s floors point down and its domains do not import each other
(the import-linter contracts in pyproject.toml), the worker registers every scheduled job,
and no module in app/ holds more than one file's worth of concerns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from settings import BASE_DIR

APP = BASE_DIR / "app"
DOMAINS = ("app.users", "app.study", "app.audit", "app.health")
# A module past this many lines holds more than one concern: split it along its seams.
MAX_MODULE_LINES = 400


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=BASE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("app", cache_dir=None)


@pytest.mark.parametrize("domain", DOMAINS)
def test_no_domain_imports_another(graph: grimp.ImportGraph, domain: str) -> None:
    for other in DOMAINS:
        if other != domain:
            chains = graph.find_shortest_chains(importer=domain, imported=other)
            direct = [chain for chain in chains if len(chain) == 2]
            assert not direct, f"{domain} imports {other}: {direct}"


def test_the_lower_floors_import_no_domain(graph: grimp.ImportGraph) -> None:
    for floor in ("app.platform", "app.http", "app.jobs", "app.notify", "app.auth"):
        for domain in (*DOMAINS, "app.flows", "app.main"):
            assert not graph.chain_exists(importer=floor, imported=domain, as_packages=True), (
                f"{floor} reaches {domain}"
            )


def test_no_module_in_app_is_over_the_limit() -> None:
    long = {
        str(path.relative_to(BASE_DIR)): n
        for path in APP.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these along their seams: {long}"


def test_every_scheduled_job_is_a_registered_task() -> None:
    from app.jobs import worker  # pylint: disable=import-outside-toplevel  # builds the Celery app

    scheduled = {entry["task"] for entry in worker.app.conf.beat_schedule.values()}
    assert scheduled
    assert scheduled <= set(worker.app.tasks)
    # Every job a domain marks is registered, under the name it is submitted by.
    registered = {name for name in worker.app.tasks if name.startswith("app.")}
    assert registered == set(worker.REGISTRY)


def test_the_admin_cli_builds_no_celery_worker_app() -> None:
    """`run.py` (every admin command) loads no worker app, jobs or signals; `celery -A
    backend.jobs` (the contract's name) finds the worker's app there."""
    code = (
        "import sys, run; assert 'app.jobs.worker' not in sys.modules, 'run.py built it';"
        "import backend.jobs, app.jobs.worker; assert backend.jobs.app is app.jobs.worker.app"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
