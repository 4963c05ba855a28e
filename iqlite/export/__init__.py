"""iqlite export stage: a trained Keras model in, a deployable int8 .tflite out (see the export issue)."""
