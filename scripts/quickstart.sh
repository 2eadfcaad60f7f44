#!/usr/bin/env bash
# The Python quickstart: sets up .venv (scripts/pyenv.sh), then runs
# python/examples/quickstart.py on its built-in default (20,000 x 384 synthetic records in a
# temporary directory: add, plain and filtered queries, reopen), printing timings.
# Arguments are passed to the example (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/pyenv.sh
exec .venv/bin/python python/examples/quickstart.py "$@"
