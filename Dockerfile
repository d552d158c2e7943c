# One image for the web server, the Celery worker and beat, and the admin CLI
# (docs/containers.md). Settings come from the environment only; nothing secret is built in.
#
#   web (default)  gunicorn -c gunicorn.conf.py asgi:app   (GUNICORN_BIND: 0.0.0.0:8000)
#   migrate        python run.py db upgrade
#   worker         celery -A backend.jobs worker --loglevel INFO …
#   beat           celery -A backend.jobs beat --loglevel INFO
#
# `make image` builds it without a Docker engine (buildah); `docker build .` works as well,
# with the CA bundle pip should trust given as the secret `ca`
# (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`).

# --- stage 1: the virtualenv -------------------------------------------------------------
FROM python:3.11-slim-bookworm AS build
# Both stages carry it: `make image` removes only unnamed images with this label.
LABEL org.opencontainers.image.title=studylog

# Only read by pip in this stage; nothing of it reaches the final image.
ARG PIP_INDEX_URL=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=180

RUN python3 -m venv /opt/venv

# The dependencies alone first, from pyproject.toml: this layer is rebuilt only when they
# change, not on every change to the code. Wheels only: no compiler in any stage.
COPY pyproject.toml /build/pyproject.toml
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/build/pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /build/requirements.txt
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    if [ -n "${PIP_INDEX_URL:-}" ]; then export PIP_INDEX_URL; else unset PIP_INDEX_URL; fi; \
    /opt/venv/bin/pip install --progress-bar off --only-binary=:all: -r /build/requirements.txt \
    && /opt/venv/bin/pip uninstall --yes --quiet pip

# --- stage 2: what runs -------------------------------------------------------------------
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title=studylog

# The service runs as this user; it owns only var/ (exports, beat's schedule).
RUN groupadd --system --gid 10001 studylog \
    && useradd --system --uid 10001 --gid studylog --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin studylog

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY asgi.py gunicorn.conf.py run.py settings.py pyproject.toml ./
COPY app ./app
COPY backend ./backend
COPY migrations ./migrations
COPY deploy/healthcheck.py ./deploy/healthcheck.py
# Compiled once here: the code is read-only to the service user, which could not write it.
RUN python3 -m compileall -q /app \
    && mkdir -p /app/var/exports \
    && chown -R studylog:studylog /app/var

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GUNICORN_BIND=0.0.0.0:8000 \
    EXPORT_DIR=/app/var/exports \
    BEAT_SCHEDULE_FILE=/app/var/celerybeat-schedule

USER studylog
EXPOSE 8000

# Liveness at the address gunicorn binds (GUNICORN_BIND), from inside the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/app/deploy/healthcheck.py"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "asgi:app"]
