"""Compression: codecs, and (later) ladders and the smallest-file optimizer; TensorFlow-free."""
