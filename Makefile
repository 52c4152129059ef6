# Two commands for a fresh machine: `make run` and `make test`. Each creates .venv and installs the pinned
# dependencies (requirements.lock) when they are missing or changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMULATOR := tests/e2e/emulator
EMULATOR_STAMP := $(EMULATOR)/node_modules/.installed

.PHONY: run test lint typecheck pytest install chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

$(EMULATOR_STAMP): $(EMULATOR)/package.json $(EMULATOR)/package-lock.json
	cd $(EMULATOR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(EMULATOR_STAMP)

.env:
	cp .env.example .env
	@echo "Создан .env из .env.example: впишите TELEGRAM_BOT_TOKEN, чтобы включить бота."

run: $(STAMP) .env
	$(BIN)/mcu run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

# Debian's Chromium at /usr/bin/chromium for the browser tests (apt-get as root or with sudo when it is missing).
chromium:
	@sh tests/browser/ensure-chromium.sh

pytest: $(STAMP) $(EMULATOR_STAMP) chromium
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) $(EMULATOR)/node_modules .mypy_cache .pytest_cache .ruff_cache
