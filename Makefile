# The README's two commands: `make dev` (the API on http://127.0.0.1:3000) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install dev test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: install  ## serve the API locally over an embedded AWS emulation, FiberUP sample loaded
	PORT=$(PORT) $(PY) -m parley_local $(ARGS)

test: install  ## install and run the whole suite (unit, template checks, local stack over HTTP)
	$(PY) -m pytest -q $(ARGS)

lint: install
	$(VENV)/bin/sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache
