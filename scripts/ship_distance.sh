#!/usr/bin/env bash
# Rebuild the shipped perceptual distance (android_demo/app/src/main/assets/iqlite_distance.tflite) and its golden
# record: pair data of the compression ladders (Kodak 24 + the first 64 sources of the LIVE-C ladder table),
# the fit, the int8 export, the golden outputs, then the 2AFC and optimize benchmarks.
#
#   bash scripts/ship_distance.sh      # ~45 min on 2 CPU cores the first time (pair data resumes per source)
#
# Needs ../shared/data and the ladders of scripts/ship_predictor.sh (benchmarks/work/ladders/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
SHARED=${SHARED:-../shared/data}
LADDERS=benchmarks/work/ladders
RUN=benchmarks/work/perceptual
SOURCES=("$SHARED/kodak24" "$SHARED/live_challenge_dev/images")
MODEL=android_demo/app/src/main/assets/iqlite_distance.tflite

"$PY" -m training distance --ladders "$LADDERS/kodak24" "$LADDERS/livec" --sources "${SOURCES[@]}" --out "$RUN" \
    --limit 64
"$PY" -m export distance-model "$RUN" --sources "${SOURCES[@]}" --out "$MODEL"
"$PY" -m export golden --model "$MODEL" --out tests/golden/iqlite_distance.json --images "$RUN/golden_images"
"$PY" -m benchmarks.perceptual_2afc
"$PY" -m benchmarks.perceptual_optimize
