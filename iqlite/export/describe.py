"""What a .tflite file says about itself: its embedded iqlite metadata and the interpreter's view of its tensors.

The logic behind `python -m export info`, kept out of the CLI so that other callers (a test, a release script)
get the same facts and the same error for a file that is not a model. TensorFlow-free: LiteRT and the
flatbuffer reader only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from iqlite.export.metadata import (
    CUSTOM_METADATA_NAME,
    format_metadata,
    format_tensor_facts,
    read_metadata,
    tensor_facts,
)
from iqlite.export.model_file import check_tflite_file
from iqlite.training.core.errors import InputError

__all__ = ["ModelDescription", "describe_model"]


@dataclass(frozen=True)
class ModelDescription:
    """A model file's tensor facts (shapes, types, quantization, size) and its TFLite metadata (None: none)."""

    path: Path
    facts: dict
    metadata: dict | None

    def to_dict(self) -> dict:
        return {"file": str(self.path), **self.facts, "metadata": self.metadata}

    def text(self) -> str:
        """Lines for a person; says so when the metadata is missing or was not written by iqlite."""
        lines = [str(self.path), format_tensor_facts(self.facts)]
        if self.metadata is None:
            lines.append("no iqlite metadata: this model has no TFLite metadata "
                         "(export it with this version of iqlite)")
        else:
            if CUSTOM_METADATA_NAME not in self.metadata.get("custom_metadata", {}):
                lines.append("no iqlite metadata: the model's TFLite metadata was not written by iqlite")
            lines.append(format_metadata(self.metadata))
        return "\n".join(lines)


def describe_model(path: str | os.PathLike) -> ModelDescription:
    """Read `path`; an `InputError` naming the file if it is missing, not a model, or one LiteRT cannot load."""
    checked: Path = check_tflite_file(path)
    content = checked.read_bytes()
    try:
        metadata = read_metadata(content)
        facts = tensor_facts(content)
    except (ValueError, RuntimeError) as err:  # not a model, or one LiteRT cannot load
        raise InputError(f"{checked}: {err}") from err
    return ModelDescription(checked, facts, metadata)
