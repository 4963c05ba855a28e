#!/usr/bin/env bash
# The main job on the embedded default: set up .venv, build the sample set (scikit-image photos with graded
# camera distortions and simulated crowd votes), train, evaluate and print the results. Extra arguments go
# to `python -m training train` (e.g. --out DIR, or --data/--images/--score-range for your own data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m training train "$@"
