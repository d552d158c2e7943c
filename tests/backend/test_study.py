"""`python run.py study export|stats` on every database."""

import csv
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from typer.testing import Result

from app.study.models import StudyRecord
from app.study.records import create_many
from settings import Settings
from tests.backend.conftest import create_user, in_db


def _seed(settings: Settings) -> None:
    alice = create_user(settings, "alice@example.com")
    bob = create_user(settings, "bob@example.com")

    async def work() -> None:
        await create_many(
            [
                StudyRecord(owner_id=alice.id, subject="math", title="limits", minutes=30,
                            studied_on=date(2024, 1, 30)),
                StudyRecord(owner_id=alice.id, subject="math", title="series", minutes=45,
                            studied_on=date(2024, 1, 31)),
                StudyRecord(owner_id=alice.id, subject="art", title="=cmd()", minutes=20,
                            studied_on=date(2024, 2, 1)),
                StudyRecord(owner_id=bob.id, subject="chemistry", title="acids", minutes=90,
                            studied_on=date(2024, 1, 5)),
            ]
        )  # fmt: skip

    in_db(settings, work)


def test_export_csv_holds_only_that_users_records(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _seed(cli_settings)
    output = tmp_path / "alice.csv"
    result = invoke(
        "study", "export", "--user", "ALICE@example.com", "--format", "csv", "-o", str(output)
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 study records of alice@example.com" in result.stdout
    rows = list(csv.DictReader(output.read_text(encoding="utf-8").splitlines()))
    # The list's default order: newest day first.
    assert [row["title"] for row in rows] == ["'=cmd()", "series", "limits"]
    assert {row["subject"] for row in rows} == {"math", "art"}


def test_export_follows_order_by(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _seed(cli_settings)
    output = tmp_path / "alice.csv"
    for order_by, titles in (
        ("minutes", ["'=cmd()", "limits", "series"]),
        ("-minutes", ["series", "limits", "'=cmd()"]),
    ):
        result = invoke(
            "study", "export", "--user", "alice@example.com", "--format", "csv",
            f"--order-by={order_by}", "-o", str(output),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(output.read_text(encoding="utf-8").splitlines()))
        assert [row["title"] for row in rows] == titles
    refused = invoke(
        "study", "export", "--user", "alice@example.com", "--order-by", "title", "-o", str(output)
    )
    assert refused.exit_code == 2


def test_export_jsonl(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _seed(cli_settings)
    output = tmp_path / "bob.jsonl"
    result = invoke(
        "study", "export", "--user", "bob@example.com", "--format", "jsonl", "-o", str(output)
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [(r["subject"], r["minutes"], r["studied_on"]) for r in records] == [
        ("chemistry", 90, "2024-01-05")
    ]


def test_export_in_json_reports_the_file_it_wrote(
    invoke: Callable[..., Result], cli_settings: Settings, tmp_path: Path
) -> None:
    _seed(cli_settings)
    output = tmp_path / "alice.jsonl"
    result = invoke(
        "study", "export", "--user", "alice@example.com", "--format", "jsonl",
        "--order-by=-minutes", "-o", str(output), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    user = report.pop("user")
    assert user["email"] == "alice@example.com"
    assert report == {
        "output": str(output.resolve()),
        "format": "jsonl",
        "order_by": "-minutes",
        "count": 3,
        "bytes": output.stat().st_size,
    }
    assert len(output.read_text(encoding="utf-8").splitlines()) == 3


def test_export_unknown_user_leaves_no_file(invoke: Callable[..., Result], tmp_path: Path) -> None:
    output = tmp_path / "ghost.csv"
    result = invoke(
        "study", "export", "--user", "ghost@example.com", "--format", "csv", "-o", str(output)
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no user with email ghost@example.com"
    assert not list(tmp_path.iterdir())


def test_stats_json_per_user_and_for_everyone(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    _seed(cli_settings)
    # Without a range the totals cover every record; by_day the last STATS_MAX_DAYS days,
    # which miss these of 2024.
    whole = json.loads(invoke("study", "stats", "--json").stdout)
    assert (whole["total_minutes"], whole["by_day"]) == (185, [])
    table = invoke("study", "stats").stdout
    assert "all users, every" in table  # the title says what the totals cover
    assert "185" in table
    result = invoke(
        "study", "stats", "--user", "alice@example.com", "--json", "--from", "2024-01-01"
    )
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["total_minutes"] == 95
    assert stats["record_count"] == 3
    assert stats["longest_streak_days"] == 3  # Jan 30, Jan 31, Feb 1
    assert {s["subject"]: s["minutes"] for s in stats["by_subject"]} == {"math": 75, "art": 20}

    everyone = json.loads(invoke("study", "stats", "--json", "--from", "2024-01-01").stdout)
    assert everyone["total_minutes"] == 185
    february = json.loads(
        invoke("study", "stats", "--json", "--from", "2024-02-01", "--to", "2024-02-29").stdout
    )
    assert february["total_minutes"] == 20

    table = invoke("study", "stats", "--user", "alice@example.com", "--to", "2024-12-31")
    assert table.exit_code == 0
    assert "95" in table.stdout
    assert "math" in table.stdout


def test_stats_refusals(invoke: Callable[..., Result]) -> None:
    assert invoke("study", "stats", "--user", "ghost@example.com").exit_code == 1
    assert invoke("study", "stats", "--from", "2024-02-30").exit_code == 2
    assert invoke("study", "stats", "--from", "2024-03-01", "--to", "2024-02-01").exit_code == 2
    assert invoke("study", "stats", "--from", "2022-01-01", "--to", "2024-02-01").exit_code == 2
    assert (
        invoke("study", "export", "--user", "a@example.com", "--format", "xml", "-o", "x").exit_code
        == 2
    )
