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


def test_seeding_again_adds_no_duplicates(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    assert invoke("demo", "seed", "--users", "2", "--records-per-user", "5").exit_code == 0
    again = invoke("demo", "seed", "--users", "2", "--records-per-user", "5", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) | {"seconds": 0} == {
        "users_created": 0,
        "records_created": 0,
        "seconds": 0,
    }
    assert in_db(cli_settings, _counts) == (2, 10, 0)
    # More users or records: only what is missing is added (a top-up, not a second copy).
    more = invoke("demo", "seed", "--users", "3", "--records-per-user", "7", "--json")
    assert more.exit_code == 0, more.output
    assert json.loads(more.output)["users_created"] == 1
    assert json.loads(more.output)["records_created"] == 3 * 7 - 10
    assert in_db(cli_settings, _counts) == (3, 21, 0)


def test_seed_refuses_bad_arguments(invoke: Callable[..., Result]) -> None:
    assert invoke("demo", "seed", "--users", "0").exit_code == 2
    assert invoke("demo", "seed", "--users", "many").exit_code == 2
    assert invoke("demo", "seed", "--prefix", "x@y").exit_code == 2
