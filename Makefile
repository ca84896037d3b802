# Kerralla: `make demo` shows it offline, `make run` sets up and runs it, `make test` sets up
# and runs the tests.
# Both create .venv if it is missing and install what they need into it.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint i18n bench demo clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Kerralla needs Python 3.11 or newer (python3.11 on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

# The browser tests drive Debian's Chromium with Playwright (no browser download).
/usr/bin/chromium:
	@echo "Installing Chromium for the browser tests (Debian package chromium)…"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

run: $(VENV)/.installed-run
	$(BIN)/kerralla run

test: $(VENV)/.installed-test /usr/bin/chromium
	tools/test

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# Extract the texts from the code into locales/messages.pot, bring every catalog up to date,
# and compile them (Kerralla compiles them at start too; the .mo files are not committed).
i18n: $(VENV)/.installed-test
	$(BIN)/python -m tools.i18n

# Speed figures (the README's Benchmarks section), printed and written to bench/results.json.
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

# A whole meeting played offline against a fake Telegram and a local mail server, through the
# real bot: no token, no network. In Swedish or English: make demo DEMO_ARGS="--lang sv".
demo: $(VENV)/.installed-run
	$(BIN)/kerralla demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
