#!/usr/bin/env bash
# Rebuild the shipped OCR-readability model (android_demo/app/src/main/assets/iqlite_ocr.tflite), its golden record
# and its benchmark: the data set (rendered documents, degraded, read by Tesseract 5), the metrifier, the int8
# export, the golden outputs, then benchmarks/task_quality.py.
#
#   bash scripts/ship_ocr.sh      # ~25 min on 2 CPU cores (data ~17 min, training ~4 min, export ~3 min,
#                                 # benchmark ~2.5 min, as measured for the shipped model); both stages resume
#
# Needs Tesseract and the fonts (scripts/system_packages.sh) and the ImageNet backbone (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_packages.sh
PY=.venv/bin/python
RUN=${RUN:-benchmarks/work/task_quality}
MODEL=android_demo/app/src/main/assets/iqlite_ocr.tflite
DOCUMENTS=${DOCUMENTS:-180}  # the shipped model's: 158 training + 22 validation documents
TEST_DOCUMENTS=${TEST_DOCUMENTS:-40}

"$PY" -m training task-quality --task ocr --out "$RUN" --documents "$DOCUMENTS" --test-documents "$TEST_DOCUMENTS" \
    --workers "$(nproc)" --epochs 3
"$PY" -m export task-model "$RUN" --out "$MODEL" --float-out "$RUN/iqlite_ocr_float.tflite"
"$PY" -m export golden --model "$MODEL" --out tests/golden/iqlite_ocr.json --images "$RUN/golden_images"
"$PY" -m benchmarks.task_quality --run "$RUN" --model "$MODEL" --float-model "$RUN/iqlite_ocr_float.tflite"
