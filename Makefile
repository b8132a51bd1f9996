# The README's commands. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench load faults fuzz audit lint clean

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

## make bench: the benchmarks (benchmarks/run.py runs one module per benchmark), then the 60 s mixed load (make load);
## prints JSON, writes BENCHMARKS.md. SQL per HTTP request is counted in the gunicorn workers (BENCH_COUNT_STATEMENTS,
## on only for that part). It drops and recreates BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scheduler_bench).
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.load

## make load: 60 s of mixed load (slot searches 70 %, bookings 20 %, day sheets 10 %) on gunicorn -w 2 +
## one worker on PostgreSQL; writes BENCHMARKS.md (load section) and benchmarks/results/load.json. It drops
## and recreates LOAD_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scheduler_load).
load: $(VENV)/.dev
	$(BIN)/python -m benchmarks.load

## make faults: the fault drills (not in CI; about 5 minutes; restarts the local PostgreSQL cluster 15/main
## once): writes BENCHMARKS.md (faults section) and benchmarks/results/faults.json. Uses FAULTS_DATABASE_URL
## (default postgresql://postgres@127.0.0.1:5432/scheduler_faults); FAULTS_DRILLS=a,b,c,d picks drills.
faults: $(VENV)/.dev
	$(BIN)/python -m benchmarks.faults

## make fuzz: the schemathesis run of `make test` (tests/e2e/test_fuzz_openapi.py), longer:
## FUZZ_MAX_EXAMPLES per operation (default 200), fresh random examples each run; prints its
## figures and writes them to instance/fuzz-report.json. TEST_DATABASE_URL=postgresql://... for PostgreSQL.
FUZZ_MAX_EXAMPLES ?= 200
fuzz: $(VENV)/.dev
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_RANDOM=1 FUZZ_REPORT=instance/fuzz-report.json \
		$(BIN)/python -m pytest tests/e2e/test_fuzz_openapi.py -s $(PYTEST_ARGS)

## make audit: known vulnerabilities in the pinned runtime dependencies (needs PyPI's advisory data)
audit: $(VENV)/.dev
	$(BIN)/pip-audit -r requirements.txt

## make lint: ruff (pyflakes, pycodestyle, bugbear)
lint: $(VENV)/.dev
	$(BIN)/ruff check scheduler tests benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache
