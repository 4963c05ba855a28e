#!/usr/bin/env bash
# The main job on the embedded default: set up .venv, build the sample set (scikit-image photos with graded
# camera distortions and simulated crowd votes), train, evaluate, export an int8 .tflite and score the
# sample photos with it, with flaw reasons ("too_dark", "blurry", ...), and say in a few lines what came out. Extra arguments go to `python -m training train` (e.g. --smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
run=runs/demo
.venv/bin/python -m training train --out "$run" "$@"
.venv/bin/python -m export tflite --model "$run" --out "$run/iqlite.tflite"
.venv/bin/python -m export score --reasons --model "$run/iqlite.tflite" --out "$run/scores.csv" "$run/sample_data/images"
echo
.venv/bin/python -m export summary "$run"
