"""`python run.py audit purge|export` on every database."""

import asyncio
import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from typer.testing import Result

from app.audit.models import AuditLog
from app.main import create_app
from settings import Settings
from tests.backend.conftest import in_db
from tests.fixtures import services

NOW = datetime.now(UTC)


def _entry(age_days: float, path: str = "/api/v1/study-records", **extra: object) -> AuditLog:
    return AuditLog(
        created_at=NOW - timedelta(days=age_days),
        request_id=f"req-{age_days}-{path}",
        method="GET",
        path=path,
        route=path,
        status_code=200,
        duration_ms=1.5,
        **extra,
    )


def _store(settings: Settings, entries: list[AuditLog]) -> None:
    async def work() -> None:
        await AuditLog.bulk_create(entries)

    in_db(settings, work)


def _ages(settings: Settings) -> list[int]:
    async def work() -> list[int]:
        rows = await AuditLog.all().order_by("created_at")
        return [round((NOW - row.created_at).total_seconds() / 86_400) for row in rows]

    ages = in_db(settings, work)
    assert isinstance(ages, list)
    return ages


def test_purge_dry_run_counts_and_keeps(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    _store(cli_settings, [_entry(40), _entry(31), _entry(5), _entry(0)])
    result = invoke("audit", "purge", "--older-than-days", "30", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["older_than_days"], report["dry_run"], report["count"]) == (30, True, 2)
    assert report["before"] == f"{(NOW - timedelta(days=30)).date().isoformat()}T00:00:00+00:00"
    assert _ages(cli_settings) == [40, 31, 5, 0]


def test_purge_deletes_in_batches(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    _store(cli_settings, [_entry(40 + i) for i in range(7)] + [_entry(1), _entry(2)])
    result = invoke("audit", "purge", "--older-than-days", "30", "--yes", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "removed 7 audit entries before" in result.stdout
    assert _ages(cli_settings) == [2, 1]


def test_purge_refuses_without_yes(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    _store(cli_settings, [_entry(40)])
    result = invoke("audit", "purge", "--older-than-days", "30")
    assert result.exit_code == 2  # misuse, as documented
    assert "--yes" in result.stderr
    assert _ages(cli_settings) == [40]


def test_purge_bad_arguments(invoke: Callable[..., Result]) -> None:
    assert invoke("audit", "purge", "--older-than-days", "-1", "--yes").exit_code == 2
    assert invoke("audit", "purge", "--older-than-days", "ten", "--yes").exit_code == 2
    assert invoke("audit", "purge", "--yes").exit_code == 2


def test_export_jsonl_time_range(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _store(
        cli_settings, [_entry(10, "/old"), _entry(3, "/a"), _entry(2, "/b"), _entry(0.01, "/new")]
    )
    output = tmp_path / "audit.jsonl"
    since = (NOW - timedelta(days=5)).isoformat()
    until = (NOW - timedelta(days=1)).isoformat()
    result = invoke(
        "audit",
        "export",
        "--since",
        since,
        "--until",
        until,
        "--format",
        "jsonl",
        "-o",
        str(output),
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2 audit entries" in result.stdout
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["path"] for line in lines] == ["/a", "/b"]
    assert not list(tmp_path.glob(".*partial"))


def test_export_in_json_reports_the_file_it_wrote(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _store(cli_settings, [_entry(3, "/a"), _entry(2, "/b"), _entry(10, "/old")])
    output = tmp_path / "audit.csv"
    result = invoke(
        "audit", "export", "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z",
        "--format", "csv", "-o", str(output), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "output": str(output.resolve()),
        "format": "csv",
        "since": "2000-01-01T00:00:00+00:00",
        "until": "2100-01-01T00:00:00+00:00",
        "user_id": None,
        "count": 3,
        "bytes": output.stat().st_size,
    }
    assert len(output.read_text(encoding="utf-8").splitlines()) == 4  # the header and 3


def test_export_csv_defuses_formulas(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _store(cli_settings, [_entry(1, "/x", user_agent='=HYPERLINK("http://evil")')])
    output = tmp_path / "audit.csv"
    result = invoke(
        "audit", "export", "--since", "2000-01-01", "--until", "2100-01-01",
        "--format", "csv", "--output", str(output),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 1
    assert rows[0]["path"] == "/x"
    assert rows[0]["user_agent"].startswith("'=")


def _get_anonymously(settings: Settings, raw_path: str) -> int:
    """One request through the whole app, whose audit entry is written at shutdown."""

    async def main() -> int:
        services.forget_dialect_caches()
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return (await client.get(raw_path)).status_code

    return asyncio.run(main())


def test_export_csv_keeps_a_404_paths_carriage_return_inside_its_cell(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    # No login needed: a 404 is audited with its path, "\r=cmd…" and all.
    assert _get_anonymously(cli_settings, "/api/v1/nope%0D=cmd|'%20/C%20calc'!A0") == 404
    output = tmp_path / "audit.csv"
    result = invoke(
        "audit", "export", "--since", "2000-01-01", "--until", "2100-01-01",
        "--format", "csv", "--output", str(output),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = output.read_bytes().decode("utf-8")  # line breaks as written
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["path"] for row in rows] == ["/api/v1/nope\r'=cmd|' /C calc'!A0"]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert not [line for line in lines if line.startswith(("=", "+", "-", "@"))]


def test_export_bad_arguments(invoke: Callable[..., Result], tmp_path: Path) -> None:
    base = ("audit", "export", "--format", "csv", "--output", str(tmp_path / "out.csv"))
    backwards = invoke(*base, "--since", "2024-02-01", "--until", "2024-01-01")
    assert backwards.exit_code == 2
    assert invoke(*base, "--since", "yesterday", "--until", "2024-01-01").exit_code == 2
    wrong_format = invoke(
        "audit", "export", "--since", "2024-01-01", "--until", "2024-02-01",
        "--format", "xml", "--output", str(tmp_path / "out.xml"),
    )  # fmt: skip
    assert wrong_format.exit_code == 2
    no_dir = invoke(
        "audit", "export", "--since", "2024-01-01", "--until", "2024-02-01",
        "--format", "csv", "--output", str(tmp_path / "missing" / "out.csv"),
    )  # fmt: skip
    assert no_dir.exit_code == 2
    assert not (tmp_path / "out.csv").exists()


def test_list_filters_newest_first_and_walks_by_cursor(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    entries = [_entry(age / 10, path=f"/api/v1/p{age}") for age in range(7)]
    missing = _entry(0.05, path="/api/v1/missing")
    missing.status_code = 404
    entries.append(missing)
    entries.append(_entry(0.15, path="/api/health/check"))
    _store(cli_settings, entries)
    seen: list[str] = []
    cursor: list[str] = []
    for _ in range(10):
        result = invoke(
            "audit", "list", "--path-prefix", "/api/v1/", "--status-code", "200",
            "--limit", "3", "--json", *cursor,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        page = json.loads(result.stdout)
        seen.extend(item["path"] for item in page["items"])
        if page["next"] is None:
            break
        cursor = ["--cursor", page["next"]]
    # Every matching entry once, newest first; the 404 and the health check filtered out.
    assert seen == [f"/api/v1/p{age}" for age in range(7)]

    since = (NOW - timedelta(hours=4)).isoformat()
    recent = invoke("audit", "list", "--since", since, "--method", "GET", "--json")
    assert recent.exit_code == 0, recent.output
    assert [i["path"] for i in json.loads(recent.stdout)["items"]] == [
        "/api/v1/p0",
        "/api/v1/missing",
        "/api/v1/p1",
        "/api/health/check",
    ]
    table = invoke("audit", "list", "--limit", "2")
    assert table.exit_code == 0, table.output
    assert "/api/v1/p0" in table.stdout
    assert "next: --cursor " in table.stdout


def test_list_refuses_bad_filters_and_cursors(invoke: Callable[..., Result]) -> None:
    for args in (
        ("--cursor", "bm90IG91cnM="),
        ("--status-code", "42"),
        ("--since", "yesterday"),
        ("--limit", "0"),
        ("--user-id", "nope"),
    ):
        result = invoke("audit", "list", *args)
        assert result.exit_code == 2, (args, result.output)
