#!/usr/bin/env bash
# Formats the whole tree and applies ruff's safe fixes, then lists what is left for `make check` to pass:
# the findings ruff cannot fix (counts per rule, then each one) and mypy's. Run once after the last merge of a wave.
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF=${RUFF:-.venv/bin/ruff}
MYPY=${MYPY:-.venv/bin/mypy}

"$RUFF" format --quiet .
# fixes ruff calls unsafe in general that keep behaviour in this code: unused unpacked names get a leading
# underscore, zip(x, x[1:]) becomes itertools.pairwise(x), [v for v in xs] becomes list(xs)
"$RUFF" check --fix --unsafe-fixes --select RUF059,RUF007,C416 --silent . || true
"$RUFF" check --fix --silent . || true   # a non-zero exit only says findings remain; they are listed below
"$RUFF" format --quiet .                 # the fixes may leave lines to reformat
echo "== remaining ruff findings, per rule"
"$RUFF" check --statistics . || true
echo "== remaining ruff findings"
"$RUFF" check --output-format concise . || true
echo "== mypy"
"$MYPY" || true
