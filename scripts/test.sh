#!/usr/bin/env bash
# Set up .venv if needed, then run the linter and the whole test suite (no network, no pretrained weights).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
