"""TensorFlow-free building blocks: image decoding, score scale, atomic writes, metrics, plots, user errors."""
