#!/usr/bin/env bash
# Rebuild the shipped setting predictor of `export optimize` (iqlite/compression/setting_predictor.json):
# compression ladders of Kodak 24 and 200 LIVE-C development photos, then the predictor fitted on both.
#
#   bash scripts/ship_predictor.sh      # ~45 min of ladders on 2 CPU cores the first time; resumable
#
# Needs ../shared/data (kodak24, live_challenge_dev). The ladders are kept in benchmarks/work/ladders/ (the
# LIVE-C one is also the training set of benchmarks/compression_optimize.py, whose test photos it avoids).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
SHARED=${SHARED:-../shared/data}
LADDERS=benchmarks/work/ladders

"$PY" -m training compression-ladders --sources "$SHARED/kodak24" --out "$LADDERS/kodak24" --no-progress
"$PY" -m training compression-ladders --sources "$SHARED/live_challenge_dev/images" --out "$LADDERS/livec" \
    --sample 200 --seed 0 --no-progress
"$PY" -m training compression-predictor --ladders "$LADDERS/kodak24" "$LADDERS/livec" \
    --sources "$SHARED/kodak24" "$SHARED/live_challenge_dev/images" --out iqlite/compression/setting_predictor.json
