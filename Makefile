# Two commands: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
# `make screenshots` refreshes docs/screenshots/ (the README's pictures) from the browser tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test screenshots lint lock audit worker beat clean

# The dependencies come from uv.lock (exact versions with hashes), then the project itself, editable.
# uv only turns the lock into a requirements file for pip; the lock pins the same uv for `make lock`.
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet uv==0.13.9
	$(BIN)/uv export --quiet --frozen --all-extras --no-emit-project -o $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# After editing pyproject.toml's dependencies: re-resolve and rewrite uv.lock.
lock: $(STAMP)
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv lock --python $(BIN)/python

# Known vulnerabilities of the locked packages, asked of PyPI's JSON API; a package it cannot check fails the run.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --disable-pip --require-hashes --progress-spinner off -r $(VENV)/requirements.txt

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/uvicorn loophole.asgi:application --host 127.0.0.1 --port 8000 --no-proxy-headers

test: $(STAMP)
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv lock --check --offline --python $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Tests write their screenshots to temporary folders; this runs the ones that take any, into the repository.
screenshots: $(STAMP)
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest tests/browser -m screenshots --fail-on-skip -q

worker: $(STAMP)
	$(BIN)/celery -A loophole worker --loglevel=info

beat: $(STAMP)
	$(BIN)/celery -A loophole beat --loglevel=info --scheduler django_celery_beat.schedulers:DatabaseScheduler

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
