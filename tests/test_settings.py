"""Settings: names from API.md, safe production values, database pool configuration."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import ValidationError

from settings import BASE_DIR, DEV_SECRET_KEY, Settings, secret_key_problem
from tests.conftest import TEST_SECRET_KEY

# A Redis address for production settings (nothing here connects to it).
PROD_REDIS = "redis://127.0.0.1:6379/0"

STRONG_SECRET = "ljP4rWnNBEFZqpmCgiybsq6aF5-cPFvzYUSyNRrat8KxLidj"

# Every environment name a setting reads.
SETTING_NAMES = frozenset(Settings.model_fields)


def _python(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Python in a process of its own, with no setting from this one's environment: only
    `env` and the `.env` file in `cwd` speak."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean.update(env)
    clean["PYTHONPATH"] = str(BASE_DIR)
    return subprocess.run(
        [sys.executable, *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _run(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _python("-c", code, env=env, cwd=cwd)


WEAK_SECRETS = [
    DEV_SECRET_KEY,
    "changethis",
    "short-but-random",
    "k" * 48,
    "ab" * 24,
    "0123456789" * 4,
    "a" * 40 + "bcdefghij",
    f" {STRONG_SECRET}",
    f"{STRONG_SECRET} ",
    "bench-secret-key-that-is-long-enough-for-hs256-0123456789",
    TEST_SECRET_KEY,
    # Accepted before issue 24: edits of the repository's keys, sequences, repeated words
    # and dictionary phrases.
    f"{DEV_SECRET_KEY}!",
    f"{TEST_SECRET_KEY}0",
    "changeme-changeme-changeme-changeme1",
    "abcdefghijklmnopqrstuvwxyz012345",
    "studylog-production-secret-key-2026",
    "correct horse battery staple of forty",
]


@pytest.mark.parametrize("secret", WEAK_SECRETS)
def test_production_settings_refuse_a_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(APP_ENV="production", SECRET_KEY=secret, REDIS_URL=PROD_REDIS, MAIL_BACKEND="none")
    assert "SECRET_KEY" in str(refused.value)


@pytest.mark.slow  # a Python process of its own
def test_production_refuses_to_start_without_a_secret_in_one_line(tmp_path: Path) -> None:
    """What a process shows for any refused setting: one line on stderr, exit 1."""
    env = {"APP_ENV": "production", "DATABASE_URL": f"sqlite://{tmp_path}/x.db"}
    result = _run("import asgi", env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", [STRONG_SECRET, "9f86d081884c7d659a2feaa0c55ad015"])
def test_production_accepts_a_random_secret(secret: str) -> None:
    assert (
        secret
        == Settings(
            APP_ENV="production", SECRET_KEY=secret, REDIS_URL=PROD_REDIS, MAIL_BACKEND="none"
        ).SECRET_KEY
    )


def test_a_token_urlsafe_key_always_passes() -> None:
    for _ in range(200):
        key = secrets.token_urlsafe(32)
        assert secret_key_problem(key) is None, key


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        # No piece of a repository key, but words: zxcvbn's estimate refuses them.
        ("correct-horse-battery-staple-violin-sunset-river", "guessable"),
        ("Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor&3", "guessable"),
        ("qwertyuiopasdfghjklzxcvbnmqazwsxedcrfv", "guessable"),
        ("2026-12-06 2026-12-07 2026-12-08 1999", "guessable"),
        # A random head does not carry a weak tail.
        (STRONG_SECRET + "password" * 8, "guessable"),
        # A random key with a piece of a published one in it.
        (STRONG_SECRET[:24] + "long-enough-for", "shares a long piece"),
    ],
)
def test_a_key_is_refused_for_its_weakness(secret: str, why: str) -> None:
    problem = secret_key_problem(secret)
    assert problem is not None
    assert why in problem


# A string literal that looks like a key: long, no spaces, naming itself a secret or a key.
_KEY_LITERAL = re.compile(r"""["']([^"'\s]*(?:secret|key)[^"'\s]*)["']""", re.IGNORECASE)


def test_every_key_written_in_the_repository_is_refused() -> None:
    found = set()
    for path in BASE_DIR.glob("**/*.py"):
        if ".venv" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        # A migration's MODELS_STATE is aerich's compressed base64, not a key (a chunk of it
        # can spell "key"); what comes before it is scanned.
        text = text.split("\nMODELS_STATE = (", 1)[0]
        for literal in _KEY_LITERAL.findall(text):
            if len(literal) >= 32 and "{" not in literal:
                found.add(literal)
    assert TEST_SECRET_KEY in found
    accepted = [key for key in found if secret_key_problem(key) is None]
    assert not accepted, "add these to REPOSITORY_SECRETS in settings.py"


@pytest.mark.slow  # a Python process of its own
def test_production_starts_with_a_strong_secret_and_closed_docs(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": STRONG_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/x.db",
        "REDIS_URL": PROD_REDIS,
        "MAIL_BACKEND": "none",
    }
    code = "import asgi; print(asgi.app.docs_url, asgi.app.openapi_url)"
    result = _run(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None None"


@pytest.mark.slow  # a Python process of its own
@pytest.mark.parametrize("redis_url", ["", "  "], ids=["empty", "blank"])
def test_production_refuses_to_start_without_redis_in_one_line(
    tmp_path: Path, redis_url: str
) -> None:
    """Limits, revocations and codes kept per process are wrong with two workers."""
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": STRONG_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/x.db",
        "REDIS_URL": redis_url,
    }
    result = _run("import asgi", env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("studylog: refusing to start:")
    assert "REDIS_URL" in lines[0]
    # Outside production an in-process store is still allowed (one process, development).
    assert Settings(APP_ENV="development", REDIS_URL="").REDIS_URL == ""


def test_docs_open_in_production_only_when_asked() -> None:
    settings = Settings(
        APP_ENV="production",
        SECRET_KEY=STRONG_SECRET,
        REDIS_URL=PROD_REDIS,
        MAIL_BACKEND="none",
        DOCS_ENABLED=True,
    )
    assert settings.docs_enabled
    assert Settings(APP_ENV="development").docs_enabled
    assert not Settings(
        APP_ENV="production", SECRET_KEY=STRONG_SECRET, REDIS_URL=PROD_REDIS, MAIL_BACKEND="none"
    ).docs_enabled


def test_comma_separated_lists_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1,10.0.0.2")
    monkeypatch.setenv("AUDIT_EXCLUDE_PATHS", "")
    settings = Settings()
    assert settings.CORS_ORIGINS == ["https://a.example", "https://b.example"]
    assert settings.TRUSTED_PROXIES == ["10.0.0.1", "10.0.0.2"]
    assert isinstance(settings.AUDIT_EXCLUDE_PATHS, list)
    assert not settings.AUDIT_EXCLUDE_PATHS


def test_log_format_defaults_to_text_only_in_development() -> None:
    assert Settings(APP_ENV="development").log_format == "text"
    assert Settings(APP_ENV="test").log_format == "json"
    assert Settings(APP_ENV="development", LOG_FORMAT="json").log_format == "json"


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="DB scheme"):
        Settings(DATABASE_URL="oracle9://nope/db")


def test_mysql_connections_are_recycled_and_pools_sized() -> None:
    settings = Settings(
        DATABASE_URL="mysql://root:@127.0.0.1:3306/app",
        DB_POOL_MAX_SIZE=7,
        DB_POOL_RECYCLE_SECONDS=600,
    )
    credentials = settings.tortoise_config()["connections"]["default"]["credentials"]
    assert credentials["pool_recycle"] == 600
    assert credentials["maxsize"] == 7
    assert settings.database_dialect == "mysql"


def test_postgres_pool_is_sized_and_url_parameters_win() -> None:
    settings = Settings(DATABASE_URL="postgres://u:p@db:5432/app?max_size=3", DB_POOL_MAX_SIZE=9)
    credentials = settings.tortoise_config()["connections"]["default"]["credentials"]
    assert credentials["max_size"] == 3
    assert credentials["min_size"] == settings.DB_POOL_MIN_SIZE
    assert settings.database_dialect == "postgres"


def test_aerich_models_are_registered() -> None:
    models = Settings().tortoise_config()["apps"]["models"]["models"]
    assert "aerich.models" in models


@pytest.mark.slow  # a Python process of its own
def test_env_example_copied_as_is_is_a_working_configuration(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((BASE_DIR / ".env.example").read_text(), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _python(str(BASE_DIR / "run.py"), *args, env={}, cwd=tmp_path)

    upgrade = run("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    checked = run("check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    shown = report["settings"]
    # Effective values, never a bare None for "the default applies".
    assert [name for name, value in shown.items() if value is None] == []
    assert shown["DOCS_ENABLED"] is True
    assert shown["LOG_FORMAT"] == "text"
    assert shown["APP_ENV"] == "development"
    assert (tmp_path / "var" / "app.db").exists()


def test_every_name_in_env_example_is_a_setting() -> None:
    names = set()
    for line in (BASE_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    assert names, "no settings found in .env.example"
    assert sorted(names - set(Settings.model_fields)) == []


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("DOCS_ENABLED", None),
        ("LOG_FORMAT", None),
        ("SMTP_PORT", 587),
        ("DB_POOL_MAX_SIZE", 10),
        ("AUDIT_ENABLED", True),
        ("SECRET_KEY", DEV_SECRET_KEY),
        ("DATABASE_URL", "sqlite://var/app.db"),
    ],
)
def test_an_empty_value_means_the_default(
    name: str, default: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "")
    assert getattr(Settings(), name) == default


@pytest.mark.parametrize("name", ["REDIS_URL", "CELERY_BROKER_URL", "SMTP_HOST"])
def test_an_empty_value_stays_empty_where_empty_is_a_choice(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "")
    assert getattr(Settings(), name) == ""


@pytest.mark.slow  # a Python process of its own
@pytest.mark.parametrize(
    ("sms", "needle"),
    [
        ({"SMS_BACKEND": "log"}, "SMS_BACKEND=log writes codes to the log"),
        (
            {"SMS_BACKEND": "aliyun", "ALIYUN_ACCESS_KEY_ID": "id", "ALIYUN_SMS_SIGN_NAME": "S"},
            "SMS_BACKEND=aliyun needs ALIYUN_ACCESS_KEY_SECRET, ALIYUN_SMS_TEMPLATE_CODE",
        ),
    ],
    ids=["log", "aliyun-without-credentials"],
)
def test_production_refuses_an_unsafe_sms_backend_in_one_line(
    sms: dict[str, str], needle: str, tmp_path: Path
) -> None:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": STRONG_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path}/x.db",
        "REDIS_URL": PROD_REDIS,
        "MAIL_BACKEND": "none",
        **sms,
    }
    result = _run("import asgi", env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("studylog: refusing to start:")
    assert needle in lines[0]


def test_production_sends_no_sms_unless_configured() -> None:
    production = Settings(
        APP_ENV="production", SECRET_KEY=STRONG_SECRET, REDIS_URL=PROD_REDIS, MAIL_BACKEND="none"
    )
    assert production.sms_backend == "none"
    configured = Settings(
        APP_ENV="production",
        SECRET_KEY=STRONG_SECRET,
        REDIS_URL=PROD_REDIS,
        MAIL_BACKEND="none",
        SMS_BACKEND="aliyun",
        ALIYUN_ACCESS_KEY_ID="id",
        ALIYUN_ACCESS_KEY_SECRET="secret",
        ALIYUN_SMS_SIGN_NAME="StudyLog",
        ALIYUN_SMS_TEMPLATE_CODE="SMS_1",
    )
    assert configured.sms_backend == "aliyun"
    assert Settings(APP_ENV="development").sms_backend == "log"


@pytest.mark.parametrize(
    "endpoint",
    [
        "dysmsapi.aliyuncs.com",
        "ftp://dysmsapi.aliyuncs.com",
        "https://proxy.example/sms",
        "https://",
    ],
)
def test_the_sms_endpoint_must_be_a_full_url_without_a_path(endpoint: str) -> None:
    with pytest.raises(ValidationError, match="ALIYUN_SMS_ENDPOINT"):
        Settings(ALIYUN_SMS_ENDPOINT=endpoint)
    assert Settings(ALIYUN_SMS_ENDPOINT="http://127.0.0.1:8089").ALIYUN_SMS_ENDPOINT


def test_an_unknown_sms_region_is_refused() -> None:
    with pytest.raises(ValidationError, match="SMS_DEFAULT_REGION"):
        Settings(SMS_DEFAULT_REGION="XX")
    assert Settings(SMS_DEFAULT_REGION="gb").SMS_DEFAULT_REGION == "GB"


def test_sms_allowed_regions_are_known_region_codes() -> None:
    assert Settings().SMS_ALLOWED_REGIONS == ["CN"]
    assert Settings(SMS_ALLOWED_REGIONS="cn, gb").SMS_ALLOWED_REGIONS == ["CN", "GB"]
    for bad in ("XX", "CN,ZZ", ","):
        with pytest.raises(ValidationError, match="SMS_ALLOWED_REGIONS"):
            Settings(SMS_ALLOWED_REGIONS=bad)


def test_allowed_hosts_default_to_any_outside_production_and_to_local_names_in_it() -> None:
    assert Settings(APP_ENV="development").allowed_hosts == ["*"]
    assert Settings(APP_ENV="test").allowed_hosts == ["*"]
    production = Settings(
        APP_ENV="production", SECRET_KEY=STRONG_SECRET, REDIS_URL=PROD_REDIS, MAIL_BACKEND="none"
    )
    assert production.allowed_hosts == ["localhost", "127.0.0.1"]
    named = Settings(
        APP_ENV="production",
        SECRET_KEY=STRONG_SECRET,
        REDIS_URL=PROD_REDIS,
        MAIL_BACKEND="none",
        ALLOWED_HOSTS="a.example, b",
    )
    assert named.allowed_hosts == ["a.example", "b"]


def test_production_refuses_any_host() -> None:
    with pytest.raises(ValueError, match="ALLOWED_HOSTS"):
        Settings(
            APP_ENV="production",
            SECRET_KEY=STRONG_SECRET,
            REDIS_URL=PROD_REDIS,
            MAIL_BACKEND="none",
            ALLOWED_HOSTS="api.example,*",
        )


def test_production_names_every_problem_in_one_refusal() -> None:
    """Not the first problem, then the next one on the next start: all of them at once."""
    with pytest.raises(ValidationError) as refused:
        Settings(APP_ENV="production", SECRET_KEY="short", SMS_BACKEND="log", REDIS_URL="")
    (error,) = refused.value.errors()
    message = error["msg"]
    for problem in ("SECRET_KEY", "SMS_BACKEND=log", "REDIS_URL is empty", "needs SMTP_HOST"):
        assert problem in message, message
    assert "MAIL_BACKEND=none" in message  # the way out for a service without mail


def _documented_range(field: Any) -> str:
    low = high = ""
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            low = f"≥ {bound.ge}"
        elif isinstance(bound, annotated_types.Gt):
            low = f"> {bound.gt}"
        elif isinstance(bound, annotated_types.Le):
            high = f"≤ {bound.le}"
        elif isinstance(bound, annotated_types.Lt):
            high = f"< {bound.lt}"
    return ", ".join(part for part in (low, high) if part)


def test_docs_give_the_range_of_every_bounded_setting() -> None:
    """docs/API.md, "Allowed values": each bounded setting with its range, as settings.py has
    it (ACCESS_TOKEN_TTL_SECONDS ≥ 30 and the rest)."""
    text = (BASE_DIR / "docs" / "API.md").read_text(encoding="utf-8")
    section = text.split("### Allowed values", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|$", section, re.MULTILINE))
    expected = {
        name: _documented_range(field)
        for name, field in Settings.model_fields.items()
        if _documented_range(field)
    }
    assert documented == expected
    assert documented["ACCESS_TOKEN_TTL_SECONDS"] == "≥ 30"
