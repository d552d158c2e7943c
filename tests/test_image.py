"""The container image and compose.yaml, built and run on a machine without a Docker engine.

`make image` builds the Dockerfile with buildah (on a base image made by debootstrap), and
the processes compose.yaml names run from that image with `buildah run --isolation chroot`
(the host's network) against the machine's PostgreSQL, Redis and RabbitMQ: the migration,
then gunicorn with a register, login, create and list round trip, then the Celery worker
takes an export job to done and beat starts. `docker-compose config` validates compose.yaml
and gives the commands run here, so the file and this test cannot drift apart. (Those
three are marked `slow`; the health check's address is checked without processes.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import yaml

from settings import BASE_DIR
from tests.conftest import PASSWORD
from tests.fixtures import services
from tests.fixtures.servers import free_port
from tests.fixtures.workers import AMQP_URL, broker_reason, purge_queue

# The image's service user (Dockerfile: useradd --uid 10001).
SERVICE_UID = 10001

TOOLS = ("buildah", "podman", "debootstrap", "docker-compose")
# One tag per checkout: two checkouts building at once must not run each other's image.
IMAGE = f"localhost/studylog:test-{hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:10]}"
COMPOSE_IMAGE = "localhost/studylog:latest"
APP_SERVICES = ("migrate", "web", "worker", "beat")
BUILD_SECONDS = 3600
READY_SECONDS = 60
# Anything that compiles C, and what must never be in the image.
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "tcc")
BIN_DIRS = ("usr/bin", "usr/local/bin", "bin", "usr/sbin", "opt/venv/bin")
SESSION = uuid.uuid4().hex[:10]


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def tools() -> None:
    """buildah, podman, debootstrap and docker-compose: skipped without them, failed under
    REQUIRE_SERVICES=1 (CI installs them)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        services.unavailable(
            f"{', '.join(missing)} not installed (apt-get install {' '.join(TOOLS)})"
        )


@pytest.fixture(scope="module")
def image(tools: None) -> dict[str, Any]:  # pylint: disable=unused-argument
    """`make image` with this checkout's tag (buildah's layer cache keeps the dependency
    layer; the base image and its debootstrap tarball are kept on the machine), and what
    buildah says of the result."""
    start = time.monotonic()
    built = run(["make", "image", f"STUDYLOG_IMAGE={IMAGE}"], cwd=BASE_DIR, timeout=BUILD_SECONDS)
    assert built.returncode == 0, (
        f"make image failed:\n{built.stdout[-3000:]}{built.stderr[-6000:]}"
    )
    inspected = run(["buildah", "inspect", "--type", "image", IMAGE])
    assert inspected.returncode == 0, inspected.stderr
    info = json.loads(inspected.stdout)
    size = run(["buildah", "images", "--noheading", "--format", "{{.Size}}", IMAGE]).stdout
    return {
        "config": info["OCIv1"]["config"],
        "healthcheck": info["Docker"]["config"].get("Healthcheck"),
        "size": size.strip().splitlines()[0],
        "build_seconds": time.monotonic() - start,
    }


@pytest.fixture(scope="module")
def compose(
    tools: None,  # pylint: disable=unused-argument
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """compose.yaml as `docker-compose config` resolves it, with an .env of secrets."""
    project = tmp_path_factory.mktemp("compose")
    shutil.copy(BASE_DIR / "compose.yaml", project / "compose.yaml")
    shutil.copytree(BASE_DIR / "deploy", project / "deploy")
    env = project / ".env"
    env.write_text(
        f"SECRET_KEY={secrets.token_urlsafe(48)}\nPOSTGRES_PASSWORD=pg{secrets.token_hex(8)}\n"
        f"RABBITMQ_PASSWORD=mq{secrets.token_hex(8)}\n",
        encoding="utf-8",
    )
    resolved = run(
        ["docker-compose", "-f", "compose.yaml", "config"], cwd=project, env=_no_compose_env()
    )
    assert resolved.returncode == 0, resolved.stderr
    config: dict[str, Any] = yaml.safe_load(resolved.stdout)
    # Without the secrets compose refuses to start anything, naming the one missing.
    env.write_text(f"SECRET_KEY={secrets.token_urlsafe(48)}\n", encoding="utf-8")
    refused = run(
        ["docker-compose", "-f", "compose.yaml", "config"], cwd=project, env=_no_compose_env()
    )
    config["refusal"] = (refused.returncode, refused.stderr)
    return config


def _no_compose_env() -> dict[str, str]:
    """This environment without what compose would read in place of the .env file."""
    names = ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "STUDYLOG_", "COMPOSE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(names)}


@pytest.mark.slow
def test_compose_config_is_valid_and_wires_the_services(
    compose: dict[str, Any], image: dict[str, Any]
) -> None:
    services_ = compose["services"]
    assert set(services_) == {"postgres", "redis", "rabbitmq", "nginx", *APP_SERVICES}
    for name in APP_SERVICES:
        assert services_[name]["image"] == COMPOSE_IMAGE, name
        assert "exports:/app/var/exports" in " ".join(services_[name]["volumes"]), name
        env = services_[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://studylog:pg"), name
        assert env["CELERY_BROKER_URL"].startswith("amqp://studylog:mq"), name
        assert env["APP_ENV"] == "production", name
    # The web service runs the image's own default command, on every address, two workers.
    assert services_["web"]["command"] == image["config"]["Cmd"]
    assert services_["web"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert services_["web"]["environment"]["WEB_CONCURRENCY"] == "2"
    assert services_["web"]["healthcheck"]["test"] == image["healthcheck"]["Test"]
    # Everything that uses the database waits for the one-shot migration.
    assert services_["migrate"]["command"] == ["python", "run.py", "db", "upgrade"]
    assert services_["migrate"]["restart"] == "no"
    assert services_["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends = services_[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["rabbitmq"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("postgres", "redis", "rabbitmq", "web", "nginx"):
        assert services_[name]["healthcheck"]["test"], name
    assert services_["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    # nginx serves deploy/nginx/studylog.conf itself, its upstream filled in by compose; the
    # app believes forwarded addresses from nginx's fixed address only.
    nginx = services_["nginx"]
    assert any(
        volume.startswith(
            f"{Path(compose['services']['web']['build']['context'])}/deploy/nginx/studylog.conf:"
        )
        for volume in nginx["volumes"]
    ), nginx["volumes"]
    assert nginx["environment"]["STUDYLOG_UPSTREAM"] == "web:8000"
    nginx_address = nginx["networks"]["default"]["ipv4_address"]
    assert services_["web"]["environment"]["TRUSTED_PROXIES"] == nginx_address
    assert {"pgdata", "exports"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in " ".join(services_["postgres"]["volumes"])
    code, stderr = compose["refusal"]
    assert code != 0
    assert "set POSTGRES_PASSWORD in .env" in stderr


@contextlib.contextmanager
def mounted(reference: str) -> Iterator[Path]:
    """The root file system of a working container made from `reference`, read from the host."""
    container = f"studylog-test-{SESSION}-{uuid.uuid4().hex[:6]}"
    made = run(["buildah", "from", "--pull-never", "--name", container, reference])
    assert made.returncode == 0, made.stderr
    try:
        mount = run(["buildah", "mount", container])
        assert mount.returncode == 0, mount.stderr
        yield Path(mount.stdout.strip())
    finally:
        run(["buildah", "umount", container])
        run(["buildah", "rm", container])


def forbidden_files(root: Path) -> list[str]:
    """What the final image must not hold: a C compiler, the tests, .git, a .env, caches."""
    found = [
        f"/{directory}/{name}"
        for directory in BIN_DIRS
        for name in COMPILERS
        if (root / directory / name).exists() or (root / directory / name).is_symlink()
    ]
    found += [
        f"/{path.relative_to(root)}"
        for path in (root / "usr" / "bin").glob("x86_64-linux-gnu-gcc*")
    ]
    for top in ("app", "opt/venv", "root", "tmp"):
        unwanted = {".git", ".env"} | (
            {".venv", "tests", ".pytest_cache"} if top == "app" else set()
        )
        found += [
            f"/{path.relative_to(root)}"
            for path in (root / top).rglob("*")
            if path.name in unwanted or (path.name == ".cache" and path.is_dir())
        ]
    return found


@pytest.mark.slow
def test_the_image_holds_no_compiler_tests_git_env_or_cache(
    image: dict[str, Any], record_property: Any
) -> None:
    with mounted(IMAGE) as root:
        found = forbidden_files(root)
        assert (root / "app" / "app" / "main.py").is_file()
        assert (root / "opt" / "venv" / "bin" / "gunicorn").is_file()
        assert not (root / "opt" / "venv" / "bin" / "pip").exists()  # only the build needs it
        # The CA bundle was mounted for pip's one RUN only: nothing of it stayed.
        secrets_dir = root / "run" / "secrets"
        leftover = sorted(p.name for p in secrets_dir.iterdir()) if secrets_dir.is_dir() else []
    assert found == [], found
    assert leftover == [], leftover
    config = image["config"]
    assert config["User"] == "studylog"
    assert config["Cmd"] == ["gunicorn", "-c", "gunicorn.conf.py", "asgi:app"]
    assert "GUNICORN_BIND=0.0.0.0:8000" in config["Env"]
    assert not [
        e
        for e in config["Env"]
        if e.split("=", 1)[0] in ("SECRET_KEY", "PIP_CERT", "PIP_INDEX_URL")
    ]
    assert image["healthcheck"]["Test"] == ["CMD", "python", "/app/deploy/healthcheck.py"]
    record_property(
        "figure", f"image {IMAGE}: {image['size']}, make image {image['build_seconds']:.0f} s"
    )


class Container:
    """One working container of the image and a command run in it with `buildah run`, in a
    session of its own (stopped with its whole process group), logging to a file."""

    def __init__(self, role: str, env: dict[str, str], volumes: list[str], log: Path) -> None:
        self.role = role
        self.name = f"studylog-test-{SESSION}-{role}"
        self.env = env
        self.volumes = volumes
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        made = run(["buildah", "from", "--pull-never", "--name", self.name, IMAGE])
        assert made.returncode == 0, made.stderr

    def args(self, command: list[str]) -> list[str]:
        flags = [f"--env={name}={value}" for name, value in self.env.items()]
        flags += [f"--volume={volume}" for volume in self.volumes]
        return ["buildah", "run", "--isolation", "chroot", *flags, self.name, "--", *command]

    def run(self, command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run(self.args(command), timeout=timeout)

    def start(self, command: list[str]) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in stop()
                self.args(command), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, needle: str, seconds: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            assert self.popen is not None
            if self.popen.poll() is not None:
                pytest.fail(f"{self.role} exited:\n{self.text()[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"{self.role}: no {needle!r} in {seconds} s:\n{self.text()[-4000:]}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        run(["buildah", "rm", self.name])


@pytest.fixture
def image_database() -> str:
    """A PostgreSQL database of this test's own, made afresh (studylog_…_image)."""
    base = services.POSTGRES_URL
    url = services.with_database(base, f"{services.database_name(base)}_image")

    async def fresh() -> None:
        await services.create_server_database(url)
        await services.drop_all_tables(url)

    try:
        asyncio.run(fresh())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        services.unavailable(f"postgres at {urlsplit(url).hostname} is unreachable: {exc!r}")
    return url


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    made: list[Container] = []
    yield made
    for container in reversed(made):
        container.stop()


@pytest.fixture
def deployment(
    image: dict[str, Any],
    compose: dict[str, Any],
    image_database: str,
    containers: list[Container],
    tmp_path: Path,
) -> Iterator[Deployment]:
    for reason in (services.redis_reason(), broker_reason(AMQP_URL)):
        if reason:
            services.unavailable(reason)
    made = Deployment(image, compose, image_database, containers, tmp_path)
    try:
        yield made
    finally:
        purge_queue(AMQP_URL, made.queue)


class Deployment:
    """compose.yaml's app services, each in a container of the image on the host network:
    the machine's PostgreSQL (a database of the test's own), Redis (the test's database)
    and RabbitMQ (a queue of the test's own, so no other checkout's worker takes its jobs)."""

    def __init__(  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self,
        image: dict[str, Any],
        compose: dict[str, Any],
        database_url: str,
        containers: list[Container],
        tmp_path: Path,
    ) -> None:
        self.image = image
        self.commands = {name: compose["services"][name]["command"] for name in APP_SERVICES}
        self.containers = containers
        self.tmp_path = tmp_path
        self.queue = f"studylog-image-{SESSION}"
        # compose's named volume for EXPORT_DIR, as a host folder every container mounts,
        # owned by the service user (uid 10001) as the image's own folder is.
        self.exports = tmp_path / "exports"
        self.exports.mkdir(mode=0o700)
        os.chown(self.exports, SERVICE_UID, SERVICE_UID)
        self.env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "REDIS_URL": services.REDIS_URL,
            "MAIL_BACKEND": "none",
            "REDIS_KEY_PREFIX": f"studylog-image-{SESSION}:",
            "CELERY_BROKER_URL": AMQP_URL,
            "CELERY_QUEUE": self.queue,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "LOG_LEVEL": "INFO",
        }

    def container(self, role: str, **extra: str) -> Container:
        made = Container(
            role,
            {**self.env, **extra},
            [f"{self.exports}:/app/var/exports"],
            self.tmp_path / f"{role}.log",
        )
        self.containers.append(made)
        return made

    def migrate(self) -> str:
        done = self.container("migrate").run(self.commands["migrate"])
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start_web(self) -> str:
        """The web command on a free loopback port, once ready; its base URL."""
        port = free_port()
        web = self.container("web", GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
        web.start(self.commands["web"])
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(base, web) == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok"},
        }
        web.wait_for("Booting worker", 5)
        assert web.text().count("Booting worker with pid") == 2, web.text()[-2000:]
        # The image's HEALTHCHECK, run as Docker would: in the container, at GUNICORN_BIND;
        # and failing where nothing listens.
        probe = self.image["healthcheck"]["Test"][1:]
        assert web.run(probe, timeout=30).returncode == 0
        nobody = self.container("probe", GUNICORN_BIND=f"127.0.0.1:{free_port()}")
        dead = nobody.run(probe, timeout=30)
        assert dead.returncode == 1, dead.stdout + dead.stderr
        return base


def wait_ready(base_url: str, web: Container) -> dict[str, Any]:
    deadline = time.monotonic() + READY_SECONDS
    answer = None
    while time.monotonic() < deadline and answer is None:
        assert web.popen is not None
        if web.popen.poll() is not None:
            pytest.fail(f"web exited:\n{web.text()[-4000:]}")
        with contextlib.suppress(httpx.TransportError):
            ready = httpx.get(f"{base_url}/api/health/ready", timeout=2)
            if ready.status_code == 200:
                answer = dict(ready.json())
        time.sleep(0.3)
    assert answer is not None, f"web not ready in {READY_SECONDS} s:\n{web.text()[-4000:]}"
    return answer


def account_round_trip(client: httpx.Client) -> None:
    """register, log in, create a record, list it; leaves the client logged in."""
    email = f"image-{SESSION}@example.com"
    registered = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = client.post("/auth/jwt/login", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    record = {"subject": "Containers", "title": "buildah, chroot", "minutes": 42}
    created = client.post("/study-records", json=record)
    assert created.status_code == 201, created.text
    listed = client.get("/study-records")
    assert listed.status_code == 200, listed.text
    assert [(r["id"], r["title"]) for r in listed.json()["items"]] == [
        (created.json()["id"], "buildah, chroot")
    ]


def poll_export(client: httpx.Client, job_id: str, worker: Container) -> dict[str, Any]:
    deadline = time.monotonic() + READY_SECONDS
    status: dict[str, Any] = {}
    while time.monotonic() < deadline and status.get("status") not in ("done", "failed"):
        answer = client.get(f"/study-records/exports/{job_id}")
        assert answer.status_code == 200, answer.text
        status = dict(answer.json())
        time.sleep(0.3)
    assert status["status"] in ("done", "failed"), worker.text()[-4000:]
    return status


@pytest.mark.slow
def test_the_images_processes_serve_a_round_trip_and_run_an_export(
    deployment: Deployment, record_property: Any
) -> None:
    start = time.monotonic()
    assert "applied " in deployment.migrate()
    base = deployment.start_web()
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as client:
        account_round_trip(client)

        worker = deployment.container("worker")
        worker.start(deployment.commands["worker"])
        worker.wait_for("ready.")
        job = client.post("/study-records/exports", json={"format": "csv"})
        assert job.status_code == 202, job.text
        status = poll_export(client, job.json()["id"], worker)
        assert status["status"] == "done", status
        assert status["rows"] == 1
        # The web container reads what the worker container wrote to the shared volume.
        download = client.get(f"/study-records/exports/{status['id']}/download")
        assert download.status_code == 200, download.text
        assert download.content == client.get("/study-records/export").content
        assert "buildah, chroot" in download.text
    written = [p for p in deployment.exports.iterdir() if p.is_file()]
    assert [p.stat().st_uid for p in written] == [SERVICE_UID]  # the service user, not root

    beat = deployment.container("beat")
    beat.start(deployment.commands["beat"])
    beat.wait_for("beat: Starting...")
    record_property(
        "figure", f"image round trip: {time.monotonic() - start:.0f} s (migrate, web, worker, beat)"
    )


def _healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "studylog_healthcheck", BASE_DIR / "deploy" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8000", "http://127.0.0.1:8000/api/health/check"),
        ("127.0.0.1:18000", "http://127.0.0.1:18000/api/health/check"),
        ("10.1.2.3:80", "http://10.1.2.3:80/api/health/check"),
        ("[::]:8000", "http://127.0.0.1:8000/api/health/check"),
        ("[::1]:8000", "http://[::1]:8000/api/health/check"),
        (":8000", "http://127.0.0.1:8000/api/health/check"),
    ],
)
def test_the_health_check_asks_the_address_gunicorn_binds(bind: str, url: str) -> None:
    assert _healthcheck_module().health_url(bind) == url
