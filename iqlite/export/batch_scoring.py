"""The per-batch scoring class: a column of files in, the scorer's rows out, with the model loaded once.

A batch engine (Ray Data's `map_batches`, an Apache Beam `DoFn`, a Spark `predict_batch_udf`) builds one
`BatchScorer` per worker and calls it on batch after batch, so each worker reads the .tflite once and keeps its
interpreter. Each row is made by the model's `iqlite.export.score.model_rows` entry (for the photo model
`score_source`), the very code the plain `export score` uses, so the rows are the same to the bit whatever runs
them, for every kind of model the plain scorer knows. Nothing here imports Ray (or TensorFlow): Beam and Spark
users import this module alone (docs/scale.md shows both).

A batch is a table with a column of files (`input_column`, default `path`): local paths (text, or the raw bytes
of a name that is not UTF-8) or URIs (`s3://bucket/key`, read through pyarrow's file systems). The result is an
Arrow table of the row's fields (`ScoreRow`'s for the photo model; the score unrounded), the batch's other columns
passed through (an id to join on), and two columns of the engine's own: `worker` (host:pid) and `seconds` (time
spent on that row), for the per-worker summary. `records` gives rows exactly as the scores table holds them
(`output_record` for the photo model), for an engine whose user wants the plain scorer's columns and values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sys
import tempfile
import time
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from iqlite.export.score import ScoreRow, model_rows, row_record, source_from_key
from iqlite.training.core.images import DEFAULT_MAX_PIXELS

__all__ = ["ENGINE_COLUMNS", "BatchScorer", "row_schema"]

#: Columns a batch result adds beside the row's fields: who scored it and how long it took.
ENGINE_COLUMNS = ("worker", "seconds")

_ARROW_TYPES = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_(), bytes: pa.binary()}


def row_schema(row_type: type = ScoreRow) -> pa.Schema:
    """The Arrow schema of a row dataclass's fields, read from its type hints, so a field added to the row (another
    model's output) is carried by every engine without a change here. Optional fields are nullable; a
    `tuple[X, ...]` is a list of X."""
    hints = typing.get_type_hints(row_type)
    return pa.schema([(f.name, _arrow_type(hints[f.name], f"{row_type.__name__}.{f.name}"))
                      for f in dataclasses.fields(row_type)])


def _arrow_type(hint: object, name: str) -> pa.DataType:
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _arrow_type(args[0], name)
    if origin is tuple and args:
        return pa.list_(_arrow_type(args[0], name))
    if hint in _ARROW_TYPES:
        return _ARROW_TYPES[hint]  # type: ignore[index]
    raise TypeError(f"{name}: no Arrow type for {hint!r}; add it to batch_scoring._ARROW_TYPES")


class BatchScorer:
    """One worker's scorer: loads the model once, then scores batch after batch (`__call__`).

    `model` is a .tflite path or its bytes: a driver sends the bytes, so workers on other machines need no copy
    of the file. `reasons`, `max_pixels` and `num_threads` mean what they mean for `export score`; `quiet` filters
    LiteRT's native start-up line from this process's stderr (for worker processes the caller owns).
    """

    def __init__(self, model: bytes | str | os.PathLike, reasons: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS, num_threads: int = 1, input_column: str = "path",
                 quiet: bool = False) -> None:
        self.rows = model_rows(model)
        with _benign_native_lines_dropped() if quiet else contextlib.nullcontext():
            self.scorer = self.rows.load(model, num_threads, reasons)  # once per worker, not once per photo
        self.reasons = reasons
        self.max_pixels = max_pixels
        self.input_column = input_column
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._schema = row_schema(self.rows.row_type)

    def score_paths(self, paths: Iterable[str | bytes | os.PathLike]) -> list[typing.Any]:
        """The rows of these files, in order (`ScoreRow`s for the photo model)."""
        return [self._row(path)[0] for path in paths]

    def records(self, paths: Iterable[str | bytes | os.PathLike]) -> list[dict[str, object]]:
        """The rows as the plain scorer's table holds them (photo model: path, score, stars, error[, reasons])."""
        return [self.rows.record(row, self.reasons) for row in self.score_paths(paths)]

    def __call__(self, batch: pa.Table | Mapping[str, Sequence]) -> pa.Table:
        """Score one batch (an Arrow table, or a mapping of columns: what Ray Data and pandas hand over)."""
        table = batch if isinstance(batch, pa.Table) else pa.table(dict(batch))
        if self.input_column not in table.column_names:
            raise KeyError(f"batch has no {self.input_column!r} column (columns: {', '.join(table.column_names)})")
        rows, seconds = [], []
        for path in table.column(self.input_column).to_pylist():
            row, took = self._row(path)
            rows.append(row_record(row))
            seconds.append(took)
        result = pa.Table.from_pylist(rows, schema=self._schema)
        for name in table.column_names:
            if name not in result.column_names and name not in ENGINE_COLUMNS:
                result = result.append_column(name, table.column(name))
        result = result.append_column("worker", pa.array([self.worker] * len(rows), pa.string()))
        return result.append_column("seconds", pa.array(seconds, pa.float64()))

    def _row(self, path: str | bytes | os.PathLike) -> tuple[typing.Any, float]:
        started = time.perf_counter()
        source = source_from_key(os.fspath(path) if isinstance(path, os.PathLike) else path)
        row = self.rows.row(self.scorer, source, self.reasons, self.max_pixels)
        return row, time.perf_counter() - started


_XNNPACK_LINE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


@contextlib.contextmanager
def _benign_native_lines_dropped() -> Iterator[None]:
    """Capture descriptor 2 while the interpreter is made and write back every line but LiteRT's XNNPACK notice.

    LiteRT prints that notice from C++ once per interpreter; on a pool of workers it is one line per worker in the
    driver's log, read as a problem. Ray replaces `sys.stderr` in its workers, so the command line's filter
    (`iqlite.training.core.native_logs`) does not apply there; this narrower one covers just the model load, and
    anything else LiteRT says (a real error) still reaches the log.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if not line.startswith(_XNNPACK_LINE)]
            if kept:
                os.write(2, b"".join(kept))
