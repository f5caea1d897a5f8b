# Two commands do everything: `make demo` and `make test`. Both bootstrap .venv themselves
# and are idempotent: the virtual environment is reinstalled only when pyproject.toml changes.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test run lint install clean help

help:
	@echo "make demo   — set up and start the demo (local sandbox chat without a token)"
	@echo "make test   — set up and run lint, type checks and the full test suite"
	@echo "make run    — run the bot (long polling) with the settings in .env"
	@echo "make lint   — ruff and mypy only"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "需要 Python 3.11 或更高版本 (Python 3.11+ is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TEST_STAMP): pyproject.toml $(APP_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(APP_STAMP)

demo: $(APP_STAMP)
	$(BIN)/zhenggai demo

run: $(APP_STAMP)
	$(BIN)/zhenggai run

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache
