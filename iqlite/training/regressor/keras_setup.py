"""The one place that decides which Keras iqlite runs on.

tf-keras (Keras 2) trains about twice as fast as Keras 3 on CPU here, and it is the only flavour that
tensorflow-model-optimization's quantization-aware training accepts. Importing tfmot switches `tf.keras`
to tf-keras for the whole process anyway, so we make that choice explicitly and first: every module that
needs Keras imports `keras` and `tf` from here, never `import keras` or `tf.keras` directly.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf"]
