# The two commands a newcomer needs: `make test` and `make demo`. Everything else is optional.
# The venv runs the Python the functions run: pythonRuntime, python3.12 in infra/settings.py and every stack
# file (tests/infra/test_deployed_as_tested.py fails when they part). A pyenv shim on PATH fails unless its
# version is enabled, so a candidate counts only if it runs; pyenv's own builds of that version come next.
RUNTIME_PYTHON := python3.12
PYTHON ?= $(firstword $(foreach candidate,$(RUNTIME_PYTHON) $(wildcard $(shell pyenv root 2>/dev/null)/versions/$(RUNTIME_PYTHON:python%=%)*/bin/$(RUNTIME_PYTHON)),$(shell $(candidate) -c "" >/dev/null 2>&1 && echo $(candidate))))
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
MODE   ?= lambda
# RUN_DIR=DIR gives a run a directory of its own (a second run of the same target and stack refuses to share one).
RUN_DIR_OPTION = $(if $(RUN_DIR),--run-dir $(RUN_DIR))

.PHONY: test lint unit up demo chaos capacity drills drill smoke bench tune whatif fuzz lock clean

# The venv is rebuilt whenever the lock file changes; a fresh clone needs nothing installed by hand.
$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON)" || { echo "make: no working $(RUNTIME_PYTHON) (the stacks' Lambda runtime): install Python $(RUNTIME_PYTHON:python%=%) (pyenv install $(RUNTIME_PYTHON:python%=%), or your package manager) or run make PYTHON=/path/to/$(RUNTIME_PYTHON)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

test: $(VENV)/.installed lint unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(VENV)/.installed
	$(PY) -m pytest -n 2 --dist loadfile  # two workers (the machine has 2 cores); a file stays on one

# The local stack that stays up until Ctrl-C: the embedded AWS with the stack provisioned and the local event
# source mapping (MODE=worker: the worker pool) running the real handler; drive it from another shell with the
# commands it prints (Locust's web UI among them). Writes build/local/$(STACK)-outputs.json (OUTPUTS= elsewhere).
up: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.up --stack $(STACK) --mode $(MODE) $(if $(OUTPUTS),--outputs $(OUTPUTS)) $(RUN_DIR_OPTION)

# The scale-out/in test on the embedded AWS (moto_server, local event source mapping, the real handler,
# Locust's scale shape), no AWS account needed; ends with the ledger line and writes REPORT.md + report/*.png.
demo: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.demo --stack $(STACK) --mode $(MODE) $(RUN_DIR_OPTION)

# The scale test with faults at once: 1% poison, 1% throttled writes, 1% timeout overruns, one poller SIGKILLed.
chaos: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.demo --stack $(STACK) --chaos $(RUN_DIR_OPTION)

# The knee: drain a 10,000-message backlog, then step the offered rate up until the backlog keeps growing or
# p99 passes its bound, hold the last sustainable step; prints the sustained ratio to the emulator's ceiling.
capacity: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.capacity --stack $(STACK) $(RUN_DIR_OPTION)

# Recovery drills (outage and redrive, deploy under load, poison and duplicate storms, distributed producer),
# each ending with the ledger check; `make drill NAME=outage` runs one.
drills: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.drills

drill: $(VENV)/.installed
	@test -n "$(NAME)" || { echo "make drill: give NAME=<drill> (python -m loadtest.local.runs.drills --help lists them); make drills runs them all" >&2; exit 2; }
	$(PY) -m loadtest.local.runs.drills $(NAME)

# Seconds: provision the stack on moto, send events (one invalid), drain them through the handler, check the ledger.
smoke: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.smoke --stack $(STACK) $(RUN_DIR_OPTION)

# Each headline ratio the median of repeated rounds with its min–max, the load average beside it.
bench: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.bench

# Power tuning, offline: the real handler on recorded batches under each memory size's CPU share, priced by the
# cost model; prints the cheapest, fastest and balanced functionMemoryMb per stack and draws
# build/runs/tune/tune.png. STACKS="dev prod" by default; POWER_TUNING=FILE compares an aws-lambda-power-tuning
# result (its output JSON).
tune: $(VENV)/.installed
	$(PY) -m loadtest.local.runs.tune $(if $(STACKS),--stacks $(STACKS)) $(if $(POWER_TUNING),--power-tuning $(POWER_TUNING))

# What-if at AWS scale (seconds, no AWS account): the stacks simulated by AWS's documented rules under bursts
# of 1k, 10k and 50k msgs/s, standard against provisioned mode; the table, report/whatif_*.png and
# report/data/whatif.json. STACK=prod and/or PROFILE=burst:20000:30 (or steps:/ramp:/scale:) study one case
# into build/whatif/ instead.
whatif: $(VENV)/.installed
	$(PY) -m loadtest.analysis.whatif $(if $(filter command line environment,$(origin STACK)),--stack $(STACK)) $(if $(PROFILE),--profile $(PROFILE))

# The handler fuzz test with 10,000 examples instead of make test's short profile.
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/consumer/test_fuzz_handler.py

# Re-pin the whole dependency tree from requirements.in.
lock:
	rm -rf /tmp/vehicle-pipeline-lock && $(PYTHON) -m venv /tmp/vehicle-pipeline-lock
	/tmp/vehicle-pipeline-lock/bin/pip install --quiet -r requirements.in
	( echo "# Generated by 'make lock' from requirements.in; every package pinned so a fresh clone gets this exact tree."; \
	  /tmp/vehicle-pipeline-lock/bin/pip freeze ) > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build
