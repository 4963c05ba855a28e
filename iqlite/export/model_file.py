"""Check that a file given as `--model` is a TFLite model before handing it to LiteRT.

LiteRT's own messages for a wrong file say nothing a user can act on ("The model is not a valid Flatbuffer
buffer", a raw mmap error for an empty file) and do not name the file. The common mistakes are few: the
training run's `model.keras` (a zip), a run folder, a truncated download, an empty file. Each gets a message
naming the file and the fix.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from iqlite.training.core.errors import InputError, display_path

__all__ = ["ModelFileError", "check_tflite_file"]

_TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4-8 of every .tflite file
_EXPORT_HINT = "export a training run with: python -m export tflite --model RUN_DIR --out MODEL.tflite"


class ModelFileError(InputError):
    """A `--model` that is not a usable TFLite model; the message names the file and what to pass instead."""


def check_tflite_file(path: str | os.PathLike) -> Path:
    """`path` as a Path if it looks like a TFLite model (exists, non-empty, TFLite identifier); else ModelFileError.

    Only the header is checked here: a file that passes but is damaged further in is reported by
    `describe_load_error` when LiteRT fails to load it.
    """
    path = Path(path)
    shown = display_path(path)
    if path.is_dir():
        hint = (" (a training run folder: " + _EXPORT_HINT + ")") if (path / "model.keras").exists() else ""
        raise ModelFileError(f"{shown}: is a folder, not a .tflite model file{hint}")
    if not path.exists():
        raise ModelFileError(f"{shown}: model file not found")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise ModelFileError(f"{shown}: cannot read the model file ({err.strerror or err})") from err
    if not head:
        raise ModelFileError(f"{shown}: the model file is empty")
    if zipfile.is_zipfile(path):
        raise ModelFileError(f"{shown}: this is a Keras model (.keras), not a TFLite model; {_EXPORT_HINT}")
    if len(head) < 8 or head[4:8] != _TFLITE_IDENTIFIER:
        raise ModelFileError(f"{shown}: not a TFLite model (no 'TFL3' identifier at bytes 4-8); pass a .tflite file, "
                             f"or {_EXPORT_HINT}")
    return path


def describe_load_error(path: str | os.PathLike, err: Exception) -> ModelFileError:
    """LiteRT refused a file with a valid header: damaged (truncated) or made for ops this runtime lacks."""
    size = os.path.getsize(path) if os.path.exists(path) else 0
    return ModelFileError(f"{display_path(path)}: LiteRT cannot load this model ({size:,} bytes; truncated or "
                          f"damaged, or made by an incompatible converter): {err}")
