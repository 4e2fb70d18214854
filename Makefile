# tts-sync developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv is the one tool a fresh machine needs beyond Python 3.11; bootstrap it when missing.
# `python3 -m uv` works wherever pip put it, whether or not its script folder is on PATH.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
STAGE ?= dev
PORT ?= 3000
SAM := $(UV) tool run --from aws-sam-cli==1.170.0 sam
# Scanners run as pinned tools (like SAM): outside the project's lock, never in the Lambda layer.
BANDIT := $(UV) tool run --from bandit==1.8.6 bandit
CHECKOV := $(UV) tool run --from checkov==3.2.497 checkov
export SAM_CLI_TELEMETRY := 0
# Template checks need a region but never credentials.
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help uv sync run demo test lint security format bench validate build deploy clean

help: ## List targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

uv: ## Install uv if missing (pip user install; PEP 668 systems too)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --user --quiet uv \
		|| python3 -m pip install --user --quiet --break-system-packages uv

sync: uv ## Create/refresh the dev environment from uv.lock
	@# Bytecode compiled at install: a fresh clone's first `make run` starts every function
	@# worker at once, and compiling on first import pushed inits past the 10 s limit.
	@$(UV) sync --locked --quiet --compile-bytecode

run: sync ## Start the local stack (moto + HTTP API + sandbox) and run the demo; Ctrl-C stops it
	$(UV) run --locked tts-sync local --port $(PORT) --demo

# Test files run in parallel, one worker per core (at most 4: each local-stack test starts its own
# moto and workers); TEST_WORKERS=0 runs them in this process, for pdb or -s.
TEST_WORKERS ?= auto
test: sync validate ## Whole test suite + template checks (sam validate --lint, cfn-lint)
	$(UV) run --locked pytest --numprocesses $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

lint: sync ## ruff + mypy
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy
	@# Every function has an app.py: check each entry point on its own.
	@for app in functions/*/app.py; do $(UV) run --locked mypy "$$app" || exit 1; done
	@$(MAKE) --no-print-directory security

security: uv ## bandit on the code, checkov on template.yaml; waivers and reasons in pyproject.toml / .checkov.yaml
	$(BANDIT) -q -r layers functions infra -c pyproject.toml
	$(CHECKOV) --config-file .checkov.yaml

format: sync ## Apply ruff formatting and safe fixes
	$(UV) run --locked ruff format .
	$(UV) run --locked ruff check --fix .

bench: sync ## Benchmarks: ratios measured side by side in one run
	$(UV) run --locked python -m benchmarks

validate: sync ## sam validate --lint and cfn-lint on template.yaml
	$(SAM) validate --lint --template template.yaml
	$(UV) run --locked cfn-lint template.yaml

build: sync ## Layer requirements from uv.lock, then sam build, then bytecode for every artifact
	$(UV) export --locked --no-dev --no-hashes --no-emit-project --no-header --format requirements-txt \
		> layers/shared/requirements.txt
	$(SAM) build --template template.yaml
	@# sam build ships sources only (no .pyc), and Lambda cannot write them (/opt and /var/task
	@# are read-only): every cold start compiled each module it imported, about 0.5 s of the
	@# webhook's. Python 3.11 bytecode, as the runtime; unchecked-hash because the unzipped
	@# files' mtimes are not the ones a timestamp .pyc would check.
	$(UV) run --locked python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash .aws-sam/build

deploy: build ## sam deploy to STAGE (dev|prod) using samconfig.toml
	$(SAM) deploy --config-env $(if $(filter prod,$(STAGE)),prod,default)

clean: ## Remove build and cache folders
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis layers/shared/requirements.txt
