# The README's commands. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench audit lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## make run: the embedded default (SQLite in instance/, demo clinic, jobs in-process)
run: $(VENV)/.runtime
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) create-api-key --role admin --name "demo admin $$(date +%Y%m%d-%H%M%S)"
	@echo "Serving on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/api/docs)"
	$(FLASK) run --host $(HOST) --port $(PORT)

## make test: the whole suite (TEST_DATABASE_URL=postgresql://... to run it on PostgreSQL)
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: the scheduling benchmark; prints JSON, writes BENCHMARKS.md. It drops and recreates
## BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scheduler_bench).
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.run

## make audit: known vulnerabilities in the pinned runtime dependencies (needs PyPI's advisory data)
audit: $(VENV)/.dev
	$(BIN)/pip-audit -r requirements.txt

## make lint: ruff (pyflakes, pycodestyle, bugbear)
lint: $(VENV)/.dev
	$(BIN)/ruff check scheduler tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache
