#!/usr/bin/env bash
# Rebuild the shipped model: train on all of LIVE-C dev, export int8 (quantization-aware training) with
# metadata and the flaw statistics as a second output (thresholds from iqlite/training/flaws/model_flaws.json),
# record golden outputs. After a recalibration of the flaw reasons alone (benchmarks/flaw_model_calibration.py)
# no retraining is needed: `python -m export add-flaw-reasons --model M --images DATA --out M`, then golden.
#
#   bash scripts/ship_model.sh          # ~10 min training + ~6 min QAT export on 2 CPU cores
#
# Needs ../shared/data/live_challenge_dev and the ImageNet backbone weights (scripts/setup.sh copies them).
# Reads the cross-validated accuracy from benchmarks/results/livec_cv.json (run benchmarks/livec_cv.py first
# to refresh it) and embeds it in the model's metadata. The run folder is resumable: re-running after an
# interruption continues training where it stopped. See android_demo/MODEL_CARD.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
DATA=${DATA:-../shared/data/live_challenge_dev}
RUN=${RUN:-runs/livec_full}
MODEL=android_demo/app/src/main/assets/iqlite.tflite
LICENSE="Apache-2.0 (iqlite code and the Keras MobileNetV2 ImageNet weights). Trained on the LIVE In the Wild \
Image Quality Challenge Database, Copyright (c) 2015 The University of Texas at Austin: keep its notice, see \
android_demo/MODEL_CARD.md"

"$PY" -m training train --data "$DATA/labels.csv" --score-range 0 100 --out "$RUN" --no-progress
"$PY" -m export tflite --model "$RUN" --images "$DATA" --out "$MODEL" --report android_demo/iqlite_export.json \
    --qat --cv-results benchmarks/results/livec_cv.json --license "$LICENSE"
"$PY" -m export golden --model "$MODEL" --out tests/golden/iqlite.json --images runs/golden_images
"$PY" -m export info "$MODEL"
