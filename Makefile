# vipclub — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SEED_CUSTOMERS ?= 2000

.PHONY: run test install lint format messages bench worker clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

.env:
	cp .env.example .env

install: $(VENV)/.installed .env

## Serve http://$(HOST):$(PORT) with the scheduled jobs (Celery worker + beat); seeds a demo club on first run.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty --customers $(SEED_CUSTOMERS)
	@echo "vipclub: http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/, health: /api/v1/health/)"
# exec: make forwards SIGTERM to the process of its recipe; bin/run stops the server, the worker and beat together
	@exec $(BIN)/python bin/run --host $(HOST) --port $(PORT)

## The whole suite: lint, import contracts, migrations up to date, tests (SQLite, or PostgreSQL with DATABASE_URL).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

## Regenerate the zh-hans catalogue and compile it (the compiled .mo is committed).
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

## Benchmarks (PostgreSQL, DATABASE_URL of a bench database, default vipclub_bench); never run by `make test`.
## Runs every bench/*.py script (not the _helpers), then prints one table of their ratios (bench/report.py).
BENCH_SCRIPTS = $(filter-out bench/report.py bench/replay_daily.py,$(sort $(wildcard bench/[!_]*.py)))
bench: install
	@failed=""; for script in $(BENCH_SCRIPTS); do \
		echo "== $$script"; $(BIN)/python $$script || failed="$$failed $$script"; \
	done; \
	echo "== bench/report.py"; $(BIN)/python bench/report.py; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

worker: install
	$(BIN)/celery -A vipclub worker --loglevel=info

clean:
	rm -rf $(VENV) var/celery var/static
