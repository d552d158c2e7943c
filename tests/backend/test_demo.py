"""`python run.py demo seed`."""

import json
from collections.abc import Callable

from typer.testing import Result

from app.auth.models import User
from app.study.models import StudyRecord
from settings import Settings
from tests.backend.conftest import in_db


async def _counts() -> tuple[int, int, int]:
    users = await User.filter(email__startswith="demo-").count()
    records = await StudyRecord.all().count()
    bad = (
        await StudyRecord.filter(minutes__lt=1).count()
        + await StudyRecord.filter(minutes__gt=1440).count()
    )
    return users, records, bad


def test_seed_creates_users_and_records(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    result = invoke("demo", "seed", "--users", "3", "--records-per-user", "25", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["records_created"] == 75
    assert in_db(cli_settings, _counts) == (3, 75, 0)


def test_seeding_again_reuses_the_demo_users(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    assert invoke("demo", "seed", "--users", "2", "--records-per-user", "5").exit_code == 0
    again = invoke("demo", "seed", "--users", "2", "--records-per-user", "5", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["users_created"] == 0
    assert in_db(cli_settings, _counts) == (2, 20, 0)


def test_seed_refuses_bad_arguments(invoke: Callable[..., Result]) -> None:
    assert invoke("demo", "seed", "--users", "0").exit_code == 2
    assert invoke("demo", "seed", "--users", "many").exit_code == 2
    assert invoke("demo", "seed", "--prefix", "x@y").exit_code == 2
