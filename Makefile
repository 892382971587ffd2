# Every target installs what it needs: a .venv/ at the root and, for the tests,
# the Debian packages they drive (apt, chromium, apache2, openssl, promtool from
# prometheus, systemd-analyze from systemd, git).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DEBS := apt chromium apache2 openssl prometheus systemd git

.PHONY: venv demo report-png test lint typecheck unit compat bench integration kill-loop clean schema-example

venv: $(STAMP)

$(STAMP): pyproject.toml
	@scripts/ensure-venv-support $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/python -m tests.doubles.demo

# docs/report.png: the demo's report in Chromium at 1280x1600.
report-png: demo
	@scripts/ensure-debs chromium
	$(BIN)/python -m tests.functional.report_screenshot demo-out/report docs/report.png

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src charm tests $(wildcard bench)

test: $(STAMP)
	@scripts/ensure-debs $(TEST_DEBS)
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/pytest
	$(MAKE) --no-print-directory compat

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Rewrite the example in docs/report-schema.md from its scenario, after a change to the
# report (the test fails while the example is stale).
schema-example: $(STAMP)
	PHASED_UPDATER_REWRITE_DOCS=1 $(BIN)/pytest -q tests/unit/test_report_schema.py -k example

NOBLE_VENV := .venv-noble
NOBLE_STAMP := $(NOBLE_VENV)/.installed
# The tests that drive launchpadlib, requests, Jinja2 and waitress, again with the
# versions Ubuntu 24.04 ships (the charm's unit installs those packages). The
# interpreter is this machine's: Ubuntu's Python 3.12 is not installable here.
COMPAT_TESTS := tests/unit tests/functional/test_cycle.py tests/functional/test_metrics.py \
	tests/functional/test_request_budget.py tests/functional/test_reused_reads.py \
	tests/functional/test_manual.py tests/functional/test_serve.py \
	tests/functional/test_mail_recipients.py tests/functional/test_git_overrides.py

$(NOBLE_STAMP): pyproject.toml tests/noble-constraints.txt
	@scripts/ensure-venv-support $(PYTHON)
	$(PYTHON) -m venv $(NOBLE_VENV)
	$(NOBLE_VENV)/bin/pip install --quiet --upgrade pip
	$(NOBLE_VENV)/bin/pip install --quiet -c tests/noble-constraints.txt -e '.[dev]'
	@touch $@

compat: $(NOBLE_STAMP)
	$(NOBLE_VENV)/bin/pytest -q -p no:cacheprovider $(COMPAT_TESTS)

bench: $(STAMP)
	@scripts/ensure-debs chromium chromium-driver
	$(BIN)/python bench/cycle.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/report_browser.py

INTEGRATION_VENV := .venv-integration

# Needs a Juju controller. pytest-operator pins an old pytest-asyncio, so it gets a
# virtualenv and pins of its own, apart from the unit test environment.
integration:
	@scripts/ensure-venv-support $(PYTHON)
	$(PYTHON) -m venv $(INTEGRATION_VENV)
	$(INTEGRATION_VENV)/bin/pip install --quiet -r tests/integration/requirements.txt
	$(INTEGRATION_VENV)/bin/pytest tests/integration --asyncio-mode=auto -p no:cacheprovider

# SIGKILL a cycle many times (PHASED_UPDATER_KILLS, PHASED_UPDATER_KILL_SEED choose).
kill-loop: $(STAMP)
	PHASED_UPDATER_KILLS=$${PHASED_UPDATER_KILLS:-200} $(BIN)/pytest tests/faults/test_kill_loop.py -q

clean:
	rm -rf $(VENV) $(NOBLE_VENV) .mypy_cache .ruff_cache .pytest_cache demo-out
