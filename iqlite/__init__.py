"""iqlite: on-device photo quality scoring.

Everything is installed under this one name, so iqlite's stages never clash with a project's own packages:

- `iqlite.training`: photos and ratings to a trained Keras model (`python -m iqlite.training train ...`,
  console script `iqlite-train`);
- `iqlite.export`: a trained model to an int8 `.tflite`, and everything that runs one (`python -m
  iqlite.export score ...`, console script `iqlite-export`).

In a checkout, `python -m training ...` and `python -m export ...` are the same commands (see README.md).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iqlite")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0+unknown"
