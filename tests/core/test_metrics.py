"""`GET /metrics`: Prometheus text by route template and status, only when enabled."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.jobs.runner import InProcessJobs, JobContext, job_name
from app.notify.mail import LogMailSender
from app.notify.sms import NoSmsSender
from app.platform import metrics

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


@pytest.fixture
def backend() -> str:
    return "sqlite"  # counting requests does not depend on the database


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"METRICS_ENABLED": True}


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def count(text: str, method: str, route: str, status: str) -> float:
    key = tuple(sorted({"method": method, "route": route, "status": status}.items()))
    return samples(text, "studylog_http_requests_total").get(key, 0.0)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    for record_id in (11, 12, 13):  # three ids, one route template
        response = await client.get(f"/api/v1/study-records/{record_id}")
        assert response.status_code == 401
    assert (await client.get("/no/such/page/42")).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    route = "/api/v1/study-records/{item_id}"
    assert count(after, "GET", route, "401") - count(before, "GET", route, "401") == 3
    unmatched = count(after, "GET", metrics.UNMATCHED, "404")
    assert unmatched - count(before, "GET", metrics.UNMATCHED, "404") == 1
    # Raw paths never become labels (they would be unbounded).
    assert "/api/v1/study-records/11" not in after
    assert "/no/such/page" not in after
    latency = samples(after, "studylog_http_request_duration_seconds_count")
    assert latency[(("method", "GET"), ("route", route))] >= 3


async def test_audit_queue_and_pool_gauges_are_exposed(client: httpx.AsyncClient) -> None:
    metrics.sample(lambda: (7, 2))
    text = (await client.get("/metrics")).text
    assert samples(text, "studylog_audit_queue_entries")[()] == 7
    assert samples(text, "studylog_audit_dropped_entries")[()] == 2


async def test_a_blocked_event_loop_shows_as_lag(client: httpx.AsyncClient) -> None:
    def slow_observations(text: str) -> float:
        """Lag observations over 0.25 s: the total count minus those at or under it."""
        buckets = samples(text, "studylog_event_loop_lag_seconds_bucket")
        total = samples(text, "studylog_event_loop_lag_seconds_count")[()]
        return total - buckets[(("le", "0.25"),)]

    before = slow_observations((await client.get("/metrics")).text)
    time.sleep(0.4)  # what a CPU-bound request does: every other one waits  # noqa: ASYNC251
    await asyncio.sleep(3 * metrics.LAG_PROBE_SECONDS)  # the probe wakes and records it
    after = slow_observations((await client.get("/metrics")).text)
    assert after - before >= 1


async def test_export_jobs_by_status_are_exposed(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    metrics.JOB_QUEUE.set(5)  # what a broker-backed app in this process left behind
    for export_format in ("csv", "jsonl"):
        response = await client.post(
            "/api/v1/study-records/exports",
            json={"format": export_format},
            headers=user_headers,
        )
        assert response.status_code == 202
    text = (await client.get("/metrics")).text
    jobs = samples(text, "studylog_export_jobs")
    assert jobs[(("status", "done"),)] == 2  # run in-process, after each answer
    assert jobs[(("status", "queued"),)] == 0
    assert samples(text, "studylog_job_queue_messages")[()] == 0  # no broker
    outcomes = samples(text, "studylog_job_outcomes")
    assert outcomes[(("job", "study.tasks.run_export"), ("outcome", "succeeded"))] == 2


async def test_a_failed_job_is_counted_as_failed(client: httpx.AsyncClient, app: FastAPI) -> None:
    async def broken(ctx: JobContext) -> None:
        del ctx
        raise RuntimeError("the job broke")

    ctx = JobContext(
        settings=app.state.settings,
        store=app.state.store,
        mail=LogMailSender(show_body=False),
        sms=NoSmsSender(),
    )
    await InProcessJobs(ctx).submit(broken)
    await InProcessJobs(ctx).submit(broken)
    text = (await client.get("/metrics")).text
    name = job_name(broken).removeprefix("app.")
    assert samples(text, "studylog_job_outcomes")[(("job", name), ("outcome", "failed"))] == 2


def export_count_reads(caplog: pytest.LogCaptureFixture) -> int:
    """How often the export jobs were counted (a GROUP BY the database client logged)."""
    return sum(
        1
        for r in caplog.records
        if r.name == "tortoise.db_client"
        and "export_job" in r.getMessage()
        and "GROUP BY" in r.getMessage()
    )


@pytest.mark.parametrize(
    "settings_overrides", [{"METRICS_ENABLED": True, "METRICS_JOBS_EVERY_SECONDS": 0.5}]
)
async def test_job_figures_are_read_at_most_once_per_interval(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    for _ in range(3):
        assert (await client.get("/metrics")).status_code == 200
    # Scrapes at once wait for the one read in flight instead of starting their own.
    answers = await asyncio.gather(*(client.get("/metrics") for _ in range(5)))
    assert all("studylog_export_jobs" in answer.text for answer in answers)
    assert export_count_reads(caplog) == 1
    await asyncio.sleep(0.6)
    await client.get("/metrics")
    assert export_count_reads(caplog) == 2


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"METRICS_ENABLED": False}

    async def test_metrics_route_is_absent(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
