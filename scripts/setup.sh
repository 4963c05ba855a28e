#!/usr/bin/env bash
# Create .venv with iqlite and its pinned dependencies, and fill the Keras weights cache when the ImageNet
# backbone file is available beside the repository (../shared/weights). Safe to run again: it reinstalls
# only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.iqlite-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing iqlite and pinned dependencies into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi

weights=mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5
cache="${KERAS_HOME:-$HOME/.keras}/models"
if [ ! -f "$cache/$weights" ] && [ -f "../shared/weights/$weights" ]; then
  mkdir -p "$cache"
  cp "../shared/weights/$weights" "$cache/$weights"
  echo "copied ImageNet backbone weights into the Keras cache: $cache/$weights"
fi
