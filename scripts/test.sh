#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: set up .venv and the Debian packages it needs, lint, run the
# import contracts, the Python tests (no network, no pretrained weights) and the JVM tests of the Android app's plain-Java core,
# then print one summary that counts both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_packages.sh
bash scripts/web_setup.sh
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the layering contracts in pyproject.toml

set +e
# Two worker processes (pytest-xdist), one test file each at a time: most of the suite's time is single-threaded
# TensorFlow tracing, so this halves the wall time on 2 cores; files share module-scoped fixtures as before.
.venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@" 2>&1 | tee .pytest-output.log
python_status=${PIPESTATUS[0]}
bash scripts/jvm_test.sh 2>&1 | tee .jvm-output.log
jvm_status=${PIPESTATUS[0]}
set -e

python_line=$(grep -E "^[0-9]+ (passed|failed)|passed|failed" .pytest-output.log | tail -1)
jvm_line=$(grep -E "^jvm tests:" .jvm-output.log | tail -1)
rm -f .pytest-output.log .jvm-output.log
echo "summary: python tests: ${python_line:-no result}; ${jvm_line:-jvm tests: no result}"
if [ "$python_status" -ne 0 ] || [ "$jvm_status" -ne 0 ]; then
  exit 1
fi
