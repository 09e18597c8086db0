# Everything a fresh machine needs: `make run` (the bot) and `make test` (the whole suite) create .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run api demo test lint typecheck bench install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

run: $(RUN_STAMP)           ## start the Discord bot (reads .env)
	$(BIN)/python -m bot

api: $(RUN_STAMP)           ## start the OpenAI-compatible API (reads .env)
	$(BIN)/python -m api

demo: $(RUN_STAMP)          ## no Jimeng account needed: the API (+ the bot if .env has DISCORD_TOKEN) on the emulator
	@$(BIN)/python -m emulator.demo $(DEMO_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(DEV_STAMP)
	$(BIN)/mypy core

test: lint typecheck        ## lint, type-check core, run every test (loopback only)
	$(BIN)/python -m pytest -q

bench: $(DEV_STAMP)         ## benchmarks against the emulator; prints a table and writes bench/results/*.json
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
