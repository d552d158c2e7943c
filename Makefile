# The two set-up commands are `make run` and `make test`; each installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# tests/test_generated_client.py generates a client with openapi-python-client, which pins
# typer<0.28 (the admin CLI needs 0.29): it gets a venv of its own, pinned here.
OPENAPI_PYTHON_CLIENT := openapi-python-client==0.29.1
CLIENTGEN := $(VENV)/clientgen/.installed-$(OPENAPI_PYTHON_CLIENT)
# pytest-xdist workers: each has databases and a Redis database of its own
# (tests/fixtures/services.py); two halve the suite's time on a 2-core machine.
TEST_WORKERS ?= 2
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint format migrate check bench clean image

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(CLIENTGEN): | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/clientgen
	$(VENV)/clientgen/bin/python -m pip install --quiet '$(OPENAPI_PYTHON_CLIENT)'
	@touch $(CLIENTGEN)

install: $(STAMP) $(CLIENTGEN)  ## create .venv and install the project with its dev tools

migrate: install  ## apply migrations to DATABASE_URL (default: SQLite under var/)
	$(BIN)/python run.py db upgrade

run: migrate  ## install, migrate, serve on 127.0.0.1:8000 with reload
	$(BIN)/python -m uvicorn asgi:app --host $(HOST) --port $(PORT) --reload

test: install  ## the whole suite (REQUIRE_SERVICES=1 makes missing services fail)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-fast: install  ## the inner loop: everything but the tests that start processes
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

lint: install  ## ruff and pylint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pylint --rcfile=.pylintrc app backend tests bench settings.py asgi.py run.py gunicorn.conf.py \
	  deploy/healthcheck.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# localhost/studylog:latest from the Dockerfile, with buildah and a base image made by
# debootstrap: no Docker engine needed (docs/containers.md). STUDYLOG_IMAGE names another tag.
image:  ## build the container image
	$(if $(STUDYLOG_IMAGE),STUDYLOG_IMAGE=$(STUDYLOG_IMAGE)) .ci/image

check: install  ## models and migrations agree, nothing pending
	$(BIN)/python run.py db check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage htmlcov
