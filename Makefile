# The two commands: `make run` (the whole portal on local defaults) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: run test test-under-load fuzz lint format clean faults

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The runtime only; INSPECT=1 adds the optional Inspect log reader (about 325 MB).
$(RUN_STAMP): requirements.txt requirements-inspect.txt | $(VENV)/bin/python
	$(PIP) -r requirements.txt $(if $(INSPECT),-r requirements-inspect.txt)
	touch $(RUN_STAMP)

# Everything the tests and linters need, Inspect included.
$(DEV_STAMP): requirements.txt requirements-inspect.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) -r requirements-dev.txt
	touch $(DEV_STAMP) $(RUN_STAMP)

# Local defaults: SQLite under var/, Redis on 127.0.0.1:6379, email to the console.
run: export DEBUG ?= true
run: $(RUN_STAMP)
	@$(BIN)/python -m caisi_portal.preflight
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_seed
	@echo "Portal: http://127.0.0.1:8000/  (Ctrl-C stops the web server, worker and beat)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# The browser journeys drive Debian's Chromium (never `playwright install`) and check pages
# with axe-core from the npm registry.
CHROMIUM := /usr/bin/chromium
AXE := tests/browser/node_modules/axe-core/axe.min.js

$(CHROMIUM):
	@echo "Installing Debian's Chromium for the browser journeys."
	apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent
	touch $(AXE)

# pytest-xdist processes: each has its own test database (test_<name>_gw0...) and Redis
# database (TEST_REDIS_URL's, then one below it per worker). One per core (at most 8): the suite
# is CPU-bound, and each process pays for its own migrations. TEST_WORKERS=0 runs serially.
# Worksteal keeps the few slow tests (real Celery workers, the scale tests) from leaving
# the other processes idle at the end.
CORES := $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)
TEST_WORKERS ?= $(CORES)
BROWSER_WORKERS ?= 2
xdist = -n $(1) $(if $(filter-out 0,$(1)),--dist worksteal)

# DATABASE_URL chooses the database (SQLite when unset); Redis is always the real one.
# tests/run.py runs the suite (with its 25 slowest tests), then the browser journeys in a
# process of their own, and ends with one line saying what passed or failed. Schemathesis draws
# FUZZ_EXAMPLES examples per operation, role and kind here; `make fuzz` draws the full count.
# JOURNEYS=no runs the suite without the browser journeys.
JOURNEYS ?= yes
test: export SECRET_KEY ?= insecure-key-for-the-test-suite-only
test: $(DEV_STAMP) $(CHROMIUM) $(AXE)
	$(BIN)/python tests/run.py --workers $(TEST_WORKERS) --browser-workers $(BROWSER_WORKERS) \
		$(if $(filter no,$(JOURNEYS)),--no-browser) -- $(PYTEST_ARGS)

# The browser journeys only, keeping a full-page screenshot of every page they check in
# var/screenshots/, for people to judge the look (`make test` skips the screenshots).
.PHONY: screenshots
screenshots: export SECRET_KEY ?= insecure-key-for-the-test-suite-only
screenshots: $(DEV_STAMP) $(CHROMIUM) $(AXE)
	SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser $(call xdist,$(BROWSER_WORKERS)) $(PYTEST_ARGS)

# The suite three runs in a row while stress-ng keeps every core busy (tests/under_load.py): a
# test that fails once under load is flaky and gets fixed. Not part of CI (it takes a while).
test-under-load: export SECRET_KEY ?= insecure-key-for-the-test-suite-only
test-under-load: $(DEV_STAMP) $(CHROMIUM) $(AXE)
	$(BIN)/python tests/under_load.py --workers $(TEST_WORKERS)

# The API against its schema with schemathesis, every operation as each role, at the full
# example count (CI runs it after `make test`).
FUZZ_EXAMPLES_FULL ?= 20
fuzz: export SECRET_KEY ?= insecure-key-for-the-test-suite-only
fuzz: $(DEV_STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES_FULL) $(BIN)/python -m pytest tests/api/test_schemathesis.py $(call xdist,$(TEST_WORKERS)) $(PYTEST_ARGS)

# Real faults against private Redis and PostgreSQL instances (never the machine's own): Redis
# stopped, a worker killed mid fan-out, sweeps racing, PostgreSQL restarted. Each script exits
# non-zero on a lost or doubled notification, so a dependency that breaks reconnection fails CI.
# Each drops and recreates its own scratch database (caisi_faults_*), never DATABASE_URL's.
FAULTS := fault_redis_down fault_worker_kill fault_sweep_race fault_postgres_restart
faults: $(DEV_STAMP)
	@for script in $(FAULTS); do echo "== bench/$$script.py"; env -u DATABASE_URL $(BIN)/python bench/$$script.py || exit 1; done

# Every benchmark but the fault scripts at a tiny size, one after another (a minute or two): each
# must still run against today's models and print its table (bench/smoke.py). Scratch databases
# only (caisi_bench_smoke*, caisi_faults_bench_smoke), whatever DATABASE_URL says; full sizes stay manual.
.PHONY: bench-smoke
bench-smoke: $(DEV_STAMP)
	$(BIN)/python bench/smoke.py

APPS := accounts api benchmarks caisi_portal capacity dashboard exercises joint partners register reviews submissions

# Style, then the supply chain: known vulnerabilities in the pinned runtime (pip-audit asks
# PyPI) and no high-severity finding in our own code (bandit).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pip-audit -r requirements.txt --progress-spinner off
	$(BIN)/bandit -q -r $(APPS) -x '*/migrations/*' --severity-level high

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var/static
