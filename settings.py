"""The service's one settings object, read from the environment and an optional `.env` file.

`settings` is what the app, the CLI and gunicorn read; `TORTOISE_ORM` is what aerich reads.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError
from zxcvbn import zxcvbn

BASE_DIR = Path(__file__).resolve().parent

DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105  (public on purpose: production refuses it)
# Values that are public knowledge (defaults of this and other templates, and the keys
# written in this repository's tests and benchmarks) are no secret.
WELL_KNOWN_SECRETS = frozenset(
    {
        DEV_SECRET_KEY,
        "",
        "changethis",
        "changeme",
        "secret",
        "secret-key",
        "SECRET",
        "test",
        "bench-secret-key-that-is-long-enough-for-hs256-0123456789",
        "test-secret-key-that-is-long-enough-for-hs256-0123456789",
    }
)
MIN_PRODUCTION_SECRET_LENGTH = 32
# A production key must show at least this much randomness by the estimate below, which
# undercounts: a random 128-bit key in hex (32 digits) scores 90 to 120, 43 characters of
# secrets.token_urlsafe(32) about 200; "aaaa…" scores 0.
MIN_PRODUCTION_SECRET_BITS = 80
MIN_PRODUCTION_SECRET_DISTINCT = 8
MAX_PRODUCTION_SECRET_LENGTH = 512
# Keys written in this repository (its defaults, tests and benchmarks) are public: a key
# that shares a piece this long with one of them (or with a well-known value of 8
# characters or more) is an edit of it, not a secret.
REPOSITORY_SECRETS = (
    DEV_SECRET_KEY,
    "test-secret-key-that-is-long-enough-for-hs256-0123456789",
    "bench-secret-key-that-is-long-enough-for-hs256-0123456789",
    "another-secret-key-that-is-also-long-enough-0123",
)
MAX_SHARED_WITH_KNOWN = 9
# zxcvbn (Dropbox's estimator: dictionaries, names, l33t, keyboard walks, sequences,
# repeats, dates) must estimate at least 10^(this x length) guesses, in pieces of at most
# 64 characters (its own limit is 72). Random keys score 0.87 to 1 per character
# (secrets.token_urlsafe(32) at least 0.95, token_hex(16) 0.87, over thousands of keys);
# word phrases, however long, 0.7 to 0.78; sequences and repeats far less.
MIN_GUESSES_LOG10_PER_CHARACTER = 0.85
ESTIMATE_PIECE = 64

ALIYUN_REQUIRED = (
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
    "ALIYUN_SMS_SIGN_NAME",
    "ALIYUN_SMS_TEMPLATE_CODE",
)

CommaList = Annotated[list[str], NoDecode]

# Where an empty value is a real choice ("no Redis", "no exclusions", "no SMTP login"); for
# every other setting `NAME=` (as `cp .env.example .env` leaves some) means its default.
EMPTY_IS_A_VALUE = frozenset(
    {
        "REDIS_URL",
        "CORS_ORIGINS",
        "TRUSTED_PROXIES",
        "AUDIT_EXCLUDE_PATHS",
        "SMTP_HOST",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "CELERY_BROKER_URL",
        "MAIL_LINK_BASE_URL",
    }
)

MODEL_MODULES = ["app.auth.models", "app.study.models", "app.audit.models", "aerich.models"]


def _near_a_known_secret(key: str) -> bool:
    lowered = key.lower()
    for known in (*REPOSITORY_SECRETS, *WELL_KNOWN_SECRETS):
        if len(known) < 8:
            continue
        other = known.lower()
        matcher = SequenceMatcher(None, lowered, other, autojunk=False)
        shared = matcher.find_longest_match(0, len(lowered), 0, len(other)).size
        if shared >= min(MAX_SHARED_WITH_KNOWN, len(other)):
            return True
    return False


def _guessable(key: str) -> bool:
    """Whether zxcvbn estimates any piece of `key` guessable (pieces of near-equal length,
    at most ESTIMATE_PIECE characters, so a weak tail cannot hide behind a strong head)."""
    count = -(-len(key) // ESTIMATE_PIECE)
    size = -(-len(key) // count)
    for start in range(0, len(key), size):
        piece = key[start : start + size]
        guesses_log10 = float(zxcvbn(piece, max_length=ESTIMATE_PIECE)["guesses_log10"])
        if guesses_log10 < MIN_GUESSES_LOG10_PER_CHARACTER * len(piece):
            return True
    return False


def secret_key_problem(key: str) -> str | None:
    """Why `key` is too weak to sign production tokens, or None."""
    if key != key.strip():
        return "SECRET_KEY has leading or trailing spaces"
    if key in WELL_KNOWN_SECRETS:
        return "SECRET_KEY is missing or a well-known value; set a random one"
    if not MIN_PRODUCTION_SECRET_LENGTH <= len(key) <= MAX_PRODUCTION_SECRET_LENGTH:
        return (
            f"SECRET_KEY must be at least {MIN_PRODUCTION_SECRET_LENGTH} characters "
            f"(and at most {MAX_PRODUCTION_SECRET_LENGTH})"
        )
    if _near_a_known_secret(key):
        return (
            "SECRET_KEY shares a long piece with a key written in this repository or a "
            "well-known value; set a random one"
        )
    if _guessable(key):
        return (
            "SECRET_KEY is guessable (words, names, sequences, repeats, dates or keyboard "
            "patterns, by zxcvbn's estimate); set a random one"
        )
    counts = Counter(key)
    # Shannon's estimate over the key's own characters: a repeated or narrow alphabet
    # ("aaaa…", "abab…") scores low, whatever the length.
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    periodic = (key + key).find(key, 1) < len(key)
    if (
        len(counts) < MIN_PRODUCTION_SECRET_DISTINCT
        or periodic
        or bits < MIN_PRODUCTION_SECRET_BITS
    ):
        return (
            "SECRET_KEY has too little randomness (repeated or few distinct characters); "
            "set a random one"
        )
    return None


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of docs/API.md, by its environment name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    APP_ENV: Literal["development", "test", "production"] = "development"
    DATABASE_URL: str = "sqlite://var/app.db"
    DB_POOL_MIN_SIZE: int = Field(default=1, ge=0, le=100)
    DB_POOL_MAX_SIZE: int = Field(default=10, ge=1, le=200)
    # MySQL closes idle connections after wait_timeout; recycle well before its default 8 h.
    DB_POOL_RECYCLE_SECONDS: int = Field(default=3600, ge=10)
    DB_CONNECT_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)

    REDIS_URL: str = ""
    REDIS_KEY_PREFIX: str = "studylog:"

    # --- accounts ---------------------------------------------------------------------
    SECRET_KEY: str = DEV_SECRET_KEY
    ACCESS_TOKEN_TTL_SECONDS: int = Field(default=3600, ge=30)
    REFRESH_TOKEN_TTL_SECONDS: int = Field(default=1_209_600, ge=60)
    # Reset and verify links mailed to users; a spent or superseded one stops working earlier.
    RESET_PASSWORD_TOKEN_TTL_SECONDS: int = Field(default=3600, ge=60)
    VERIFY_TOKEN_TTL_SECONDS: int = Field(default=86_400, ge=60)
    # With Redis, each worker trusts a session it admitted for this long before reading the
    # database again; every logout or account change ends that at once (0: no cache).
    AUTH_CACHE_SECONDS: float = Field(default=5.0, ge=0, le=60)
    # GET /users/count is public; its answer may be this many seconds old (0: never cached).
    USER_COUNT_CACHE_SECONDS: float = Field(default=5.0, ge=0, le=5)
    # Fixed-window limits shared through the store: attempts per window, per client IP and
    # per email. 0 turns that one limit off.
    RATE_LIMIT_WINDOW_SECONDS: int = Field(default=60, ge=1, le=86_400)
    # Login (README "Login limits"): every attempt per address; attempts at one account from
    # one address; and a higher ceiling of failures at one account from addresses that have
    # not logged in to it lately, which locks those out for a window, then 2, 4…, up to
    # the backoff maximum.
    RATE_LIMIT_LOGIN_PER_IP: int = Field(default=30, ge=0)
    RATE_LIMIT_LOGIN_PER_EMAIL_IP: int = Field(default=10, ge=0)
    RATE_LIMIT_LOGIN_PER_EMAIL: int = Field(default=50, ge=0)
    RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS: int = Field(default=900, ge=1, le=86_400)
    # Password checks of a logged-in user (deregistration, a change of email or password)
    # and password resets: per user and per client IP.
    RATE_LIMIT_PASSWORD_PER_USER: int = Field(default=10, ge=0)
    RATE_LIMIT_PASSWORD_PER_IP: int = Field(default=30, ge=0)
    RATE_LIMIT_REGISTER_PER_IP: int = Field(default=20, ge=0)
    RATE_LIMIT_REGISTER_PER_EMAIL: int = Field(default=5, ge=0)
    RATE_LIMIT_FORGOT_PASSWORD_PER_IP: int = Field(default=10, ge=0)
    RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL: int = Field(default=3, ge=0)
    RATE_LIMIT_VERIFY_PER_IP: int = Field(default=10, ge=0)
    RATE_LIMIT_VERIFY_PER_EMAIL: int = Field(default=3, ge=0)
    # Study record writes (create, change, delete) and export jobs asked, per user.
    RATE_LIMIT_WRITE_PER_USER: int = Field(default=120, ge=0)

    CORS_ORIGINS: CommaList = []
    TRUSTED_PROXIES: CommaList = ["127.0.0.1"]
    # Host names the service answers for (`*.example.com` matches subdomains, `*` anything);
    # any other Host gets 400, so no answer (a redirect) can name a stranger's host. Unset:
    # `*` in development and test, `localhost,127.0.0.1` in production.
    ALLOWED_HOSTS: CommaList | None = None
    DOCS_ENABLED: bool | None = None

    # --- audit trail ------------------------------------------------------------------
    AUDIT_ENABLED: bool = True
    AUDIT_EXCLUDE_PATHS: CommaList = ["/api/health/", "/metrics"]
    # Each worker queues entries in memory and writes them with one bulk insert per batch.
    AUDIT_FLUSH_INTERVAL_MS: int = Field(default=200, ge=10, le=60_000)
    AUDIT_BATCH_SIZE: int = Field(default=500, ge=1, le=10_000)
    # Entries waiting while the database is down; past this, new ones are dropped and counted.
    AUDIT_QUEUE_MAX: int = Field(default=20_000, ge=1)
    # Retries after a failed insert back off from the flush interval up to this.
    AUDIT_RETRY_MAX_SECONDS: float = Field(default=5.0, gt=0)
    # How long a stopping worker keeps trying to write its queue (below gunicorn's
    # graceful_timeout of 25 s, so the worker is never killed half-way).
    AUDIT_SHUTDOWN_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)

    # --- mail -------------------------------------------------------------------------
    SMTP_HOST: str = ""
    SMTP_PORT: int = 587
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_FROM: str = "studylog@localhost"
    SMTP_STARTTLS: bool = True
    SMTP_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # Where the links in verify and reset mails point: the web client, which sends the token
    # on to the API. Empty (no web client): the mails carry the token and the API route only.
    MAIL_LINK_BASE_URL: str = ""
    # `smtp` (needs SMTP_HOST), `log` (into the log, for development; production refuses
    # it) or `none` (no mail at all: password reset and email verification cannot work).
    # Unset: log in development and test, smtp in production.
    MAIL_BACKEND: Literal["smtp", "log", "none"] | None = None
    # The log backend writes a mail's body (its token) only when this is true.
    MAIL_LOG_TOKENS: bool = False

    # --- background jobs --------------------------------------------------------------
    # Empty: jobs run inside the web process after the answer (one host; development).
    CELERY_BROKER_URL: str = ""
    # The queue every task goes to; hosts that share a broker share the work through it.
    CELERY_QUEUE: str = "studylog"
    # The longest job (an export) is stopped after this; the Redis broker hands an
    # unacknowledged job to another worker only after it (plus a margin), never while the
    # first may still be running it.
    JOB_TIME_LIMIT_SECONDS: int = Field(default=1800, ge=2, le=86_400)
    # Mail (and SMS) jobs: tries after the first when the server refuses or times out,
    # waiting BACKOFF, 2 x BACKOFF, 4 x BACKOFF ... between them; then logged as failed.
    JOB_RETRY_MAX: int = Field(default=5, ge=0, le=20)
    JOB_RETRY_BACKOFF_SECONDS: float = Field(default=30.0, gt=0, le=3600)
    # The beat schedule: audit purge and expired-export removal.
    AUDIT_PURGE_EVERY_SECONDS: float = Field(default=86_400, gt=0)
    EXPORT_CLEANUP_EVERY_SECONDS: float = Field(default=3600, gt=0)
    BEAT_SCHEDULE_FILE: Path = BASE_DIR / "var" / "celerybeat-schedule"
    AUDIT_RETENTION_DAYS: int = Field(default=90, ge=0, le=36_500)
    # Audit partitions (PostgreSQL, MySQL): one per UTC day, made this many days ahead and
    # kept so by `run.py db upgrade` and a job every AUDIT_PARTITIONS_EVERY_SECONDS.
    AUDIT_PARTITIONS_AHEAD_DAYS: int = Field(default=14, ge=1, le=365)
    AUDIT_PARTITIONS_EVERY_SECONDS: float = Field(default=3600, gt=0)
    EXPORT_DIR: Path = BASE_DIR / "var" / "exports"
    EXPORT_TTL_HOURS: float = Field(default=24, gt=0, le=24 * 365)
    # GET /study-records/stats: the default window (the last this many days) and the longest
    # range it answers for.
    STATS_MAX_DAYS: int = Field(default=366, ge=1, le=36_600)
    EXPORT_MAX_ACTIVE_PER_USER: int = Field(default=3, ge=1, le=1000)
    # Finished files kept per user; past either limit the oldest go (with their jobs).
    EXPORT_MAX_FILES_PER_USER: int = Field(default=10, ge=1, le=10_000)
    EXPORT_MAX_BYTES_PER_USER: int = Field(default=200_000_000, ge=1)
    # Below this much free space on EXPORT_DIR's disk no export starts (503); 0: no floor.
    EXPORT_MIN_FREE_BYTES: int = Field(default=1_000_000_000, ge=0)
    # A file in EXPORT_DIR without a job row is removed by the cleanup once this old.
    EXPORT_ORPHAN_GRACE_SECONDS: float = Field(default=3600, ge=0)

    # --- phone numbers and SMS codes ---------------------------------------------------
    # None: `log` in development and test, `none` in production (`log` is refused there).
    SMS_BACKEND: Literal["aliyun", "log", "none"] | None = None
    ALIYUN_ACCESS_KEY_ID: str = ""
    ALIYUN_ACCESS_KEY_SECRET: str = ""
    ALIYUN_SMS_SIGN_NAME: str = ""
    ALIYUN_SMS_TEMPLATE_CODE: str = ""
    # A full URL, so a test or a proxy can stand in for the service.
    ALIYUN_SMS_ENDPOINT: str = "https://dysmsapi.aliyuncs.com"
    SMS_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=120)
    SMS_DEFAULT_REGION: str = "CN"
    SMS_CODE_TTL_SECONDS: int = Field(default=300, ge=1, le=3600)
    # 0: no wait between codes to one phone (the daily cap still holds).
    SMS_RESEND_SECONDS: int = Field(default=60, ge=0, le=3600)
    # Wrong guesses of one code from one client address (an IPv6 one by its /64).
    SMS_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=20)
    # Wrong guesses of one code from all the addresses that never logged in to the account,
    # together: past it the code is dead for them (odds: docs/API.md).
    SMS_CODE_GUESS_CEILING: int = Field(default=20, ge=1, le=100)
    # Codes a phone gets a UTC day asked from addresses that logged in to its account
    # (or by the account itself) ...
    SMS_DAILY_LIMIT_PER_PHONE: int = Field(default=10, ge=1, le=1000)
    # ... and, counted apart, codes asked from any other address (unsolicited).
    SMS_UNSOLICITED_PER_PHONE_PER_DAY: int = Field(default=3, ge=1, le=1000)
    RATE_LIMIT_SMS_PER_IP: int = Field(default=20, ge=0)
    # Paid SMS is capped: codes go only to mobile numbers of these regions; one account asks
    # for so many bind codes an hour and a UTC day; the whole service sends so many an hour
    # (0: no ceiling), past which code requests answer 503.
    SMS_ALLOWED_REGIONS: CommaList = ["CN"]
    SMS_BIND_CODES_PER_ACCOUNT_HOUR: int = Field(default=5, ge=1, le=1000)
    SMS_BIND_CODES_PER_ACCOUNT_DAY: int = Field(default=10, ge=1, le=10_000)
    SMS_MAX_PER_HOUR: int = Field(default=1000, ge=0)

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_FORMAT: Literal["text", "json"] | None = None
    # One line per request (logger app.access): method, route template, status, time, size,
    # request id. Off by default: the audit trail is the record of requests.
    ACCESS_LOG: bool = False

    # --- serving ----------------------------------------------------------------------
    METRICS_ENABLED: bool = False
    # The job and export figures of /metrics are read at most this often per web process.
    METRICS_JOBS_EVERY_SECONDS: float = Field(default=15.0, ge=0, le=3600)
    GUNICORN_BIND: str = "127.0.0.1:8000"
    WEB_CONCURRENCY: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Password hashes (Argon2) one worker runs at once, each on a thread of its own; unset:
    # the host's cores shared out among its WEB_CONCURRENCY workers (at least one each),
    # so the host hashes on every core and no more.
    PASSWORD_HASH_THREADS: int | None = Field(default=None, ge=1, le=64)
    # Connections plus requests in progress one worker takes; past it, a new request gets a
    # 503 at once instead of a share of a worker that is already full.
    WEB_LIMIT_CONCURRENCY: int = Field(default=512, ge=1)
    # A connection that has not sent a whole request head this long after opening (or
    # after its previous answer) is closed by the worker.
    WEB_HEADER_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {
            name: value
            for name, value in values.items()
            if name in EMPTY_IS_A_VALUE or not (isinstance(value, str) and not value.strip())
        }

    @field_validator(
        "CORS_ORIGINS", "TRUSTED_PROXIES", "ALLOWED_HOSTS", "AUDIT_EXCLUDE_PATHS", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            expand_db_url(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("SMS_DEFAULT_REGION")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region code phonenumbers knows (CN, US, GB, …)")
        return region

    @field_validator("SMS_ALLOWED_REGIONS", mode="before")
    @classmethod
    def _known_regions(cls, value: Any) -> Any:
        regions = [region.upper() for region in _split_commas(value)]
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown or not regions:
            raise ValueError(
                f"{unknown or value!r}: need one or more region codes phonenumbers knows (CN, …)"
            )
        return regions

    @field_validator("ALIYUN_SMS_ENDPOINT")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        # The SDK sends to scheme://host[:port]/ and nowhere else.
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be a full URL such as https://dysmsapi.aliyuncs.com")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must have no path, query or fragment")
        return value.strip()

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> Settings:
        """Every unsafe or missing production setting at once, in one refusal."""
        problems = []
        if self.mail_backend == "smtp" and not self.SMTP_HOST:
            problems.append(
                "MAIL_BACKEND=smtp needs SMTP_HOST (smtp is production's default): "
                "password reset and verification mails cannot be sent; set SMTP_HOST, "
                "or MAIL_BACKEND=none to run without mail"
            )
        if self.APP_ENV == "production":
            problems += self._production_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems = []
        key_problem = secret_key_problem(self.SECRET_KEY)
        if key_problem:
            problems.append(key_problem)
        if self.SMS_BACKEND == "log":
            problems.append("SMS_BACKEND=log writes codes to the log; use aliyun or none")
        if self.SMS_BACKEND == "aliyun":
            missing = [name for name in ALIYUN_REQUIRED if not getattr(self, name)]
            if missing:
                problems.append(f"SMS_BACKEND=aliyun needs {', '.join(missing)}")
        if "*" in self.allowed_hosts:
            problems.append("ALLOWED_HOSTS must name the service's hosts in production, not *")
        if not self.REDIS_URL.strip():
            # Without it each process keeps its own limits, revocations and counts: with
            # two workers a login limit of 10 lets 20 through.
            problems.append(
                "REDIS_URL is empty; production needs Redis shared by every process "
                "(rate limits, session revocation, one-time codes)"
            )
        if self.mail_backend == "log":
            problems.append(
                "MAIL_BACKEND=log writes mails (and their tokens) to the log; use smtp or none"
            )
        return problems

    @property
    def broker_visibility_timeout(self) -> int:
        """Seconds before the Redis broker gives an unacknowledged job to another worker:
        past the longest job's hard limit, so a job still running is never run twice."""
        return self.JOB_TIME_LIMIT_SECONDS + max(5, self.JOB_TIME_LIMIT_SECONDS // 10)

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @property
    def mail_backend(self) -> str:
        if self.MAIL_BACKEND is None:
            return "smtp" if self.is_production else "log"
        return self.MAIL_BACKEND

    @property
    def sms_backend(self) -> str:
        if self.SMS_BACKEND is None:
            return "none" if self.is_production else "log"
        return self.SMS_BACKEND

    @property
    def allowed_hosts(self) -> list[str]:
        if self.ALLOWED_HOSTS:  # unset or empty: the default
            return self.ALLOWED_HOSTS
        return ["localhost", "127.0.0.1"] if self.is_production else ["*"]

    @property
    def docs_enabled(self) -> bool:
        if self.DOCS_ENABLED is None:
            return not self.is_production
        return self.DOCS_ENABLED

    @property
    def hash_threads(self) -> int:
        if self.PASSWORD_HASH_THREADS is not None:
            return self.PASSWORD_HASH_THREADS
        return max(1, -(-(os.cpu_count() or 1) // self.WEB_CONCURRENCY))

    @property
    def log_format(self) -> str:
        if self.LOG_FORMAT:
            return self.LOG_FORMAT
        return "text" if self.APP_ENV == "development" else "json"

    @property
    def database_dialect(self) -> str:
        engine = expand_db_url(self.DATABASE_URL)["engine"]
        return engine.rsplit(".", 1)[-1].replace("asyncpg", "postgres")

    def tortoise_config(self) -> dict[str, Any]:
        """The Tortoise/aerich config for DATABASE_URL, with pool settings applied."""
        connection = expand_db_url(self.DATABASE_URL)
        credentials = connection["credentials"]
        dialect = connection["engine"].rsplit(".", 1)[-1]
        if dialect == "asyncpg":
            credentials.setdefault("min_size", self.DB_POOL_MIN_SIZE)
            credentials.setdefault("max_size", self.DB_POOL_MAX_SIZE)
            credentials.setdefault("timeout", self.DB_CONNECT_TIMEOUT_SECONDS)
        elif dialect == "mysql":
            credentials.setdefault("minsize", self.DB_POOL_MIN_SIZE)
            credentials.setdefault("maxsize", self.DB_POOL_MAX_SIZE)
            credentials.setdefault("pool_recycle", self.DB_POOL_RECYCLE_SECONDS)
            credentials.setdefault("connect_timeout", self.DB_CONNECT_TIMEOUT_SECONDS)
            # As PostgreSQL does: each statement reads what was committed before it, and a
            # locking read takes no gap locks. The kept streaks (app/study/tally.py) rely on
            # it: a writer reads the runs its predecessor committed, not an older snapshot.
            credentials.setdefault(
                "init_command", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
            )
        elif dialect == "sqlite":
            path = credentials["file_path"]
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "connections": {"default": connection},
            "apps": {"models": {"models": list(MODEL_MODULES), "default_connection": "default"}},
            "use_tz": True,
            "timezone": "UTC",
        }


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; an unsafe or malformed one stops the process in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        print(f"studylog: refusing to start: {problems}", file=sys.stderr)
        raise SystemExit(1) from None


settings = load_settings()


def __getattr__(name: str) -> Any:
    # `TORTOISE_ORM` is built when aerich asks for it, not at import: building it makes the
    # SQLite database's folder, which importing the settings must not do.
    if name == "TORTOISE_ORM":
        return settings.tortoise_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
