"""`export score --engine ray`: the plain scorer's rows, made by a pool of Ray Data workers (docs/scale.md).

The same code runs on a laptop (a local Ray instance started and stopped here), a machine's cores and a cluster
(`--address auto` or `ray://HOST:PORT`, or inside `ray job submit`). What happens:

1. The driver resolves the inputs exactly as the plain scorer does (`iqlite.export.score.resolve_inputs`: folders,
   files, patterns, manifests, local or bucket URIs) and checks the model and the output path before Ray starts.
2. The files still to score go to Ray as an Arrow table of their names (`source_key`: bytes, so a name that is not
   UTF-8 survives), in small blocks. `map_batches` runs `iqlite.export.batch_scoring.BatchScorer` on an actor pool
   (one actor per worker, one CPU each): each actor receives the model's bytes once, so no worker needs the file,
   and scores every row with `score_source`, the plain scorer's own row function (TensorFlow is never imported).
3. Ray Data streams: blocks are pulled as workers free up and the driver consumes results as they come, so memory
   stays bounded however long the manifest. A worker that dies is restarted by Ray and its batch retried (Ray
   Data's defaults for actor pools: restarts and retries without limit; the pixel limit keeps decompression bombs
   from killing workers in the first place).
4. The driver saves results as they arrive, every `checkpoint_rows` rows or `checkpoint_seconds`, as Parquet parts
   in `<out>.parts/` (each written atomically, beside a `settings.json` of what decides a row: the model's hash,
   reasons, the pixel limit). A rerun with the same `--out` and settings skips every file a part holds, so an
   interrupted or failed run loses at most the rows since its last part; other settings are refused, not mixed.
5. At the end the parts are joined to the input list, in input order (one row per input, a file listed twice gets
   its row twice, as in the plain scorer), written by the plain scorer's writer (photo model: `write_scores`, CSV
   or Parquet by the name) atomically, and the parts folder is removed. A row missing there is a bug and stops the
   run with the parts kept.

Nothing here knows what a row holds: the model's `iqlite.export.score.model_rows` entry says how rows are made,
carried (their dataclass's fields) and written, so every kind of model the plain scorer knows runs here as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from iqlite.export.batch_scoring import BatchScorer, row_schema
from iqlite.export.model_file import check_tflite_file
from iqlite.export.score import (
    ModelRows,
    model_rows,
    resolve_inputs,
    row_from_record,
    source_key,
    write_skipped_report,
)
from iqlite.training.core.atomic import atomic_path, check_writable, write_json
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PARTS_SUFFIX",
    "RayScoreSummary",
    "WorkerStats",
    "parts_folder",
    "score_with_ray",
]

#: Photos per `map_batches` call: ~0.4 s of work at 384 px, long beside Ray's per-batch cost (~1 ms), short
#: enough that a retried batch or the last, unbalanced batches cost little.
DEFAULT_BATCH_SIZE = 32
#: Rows per input block (a Ray task): two batches, so results stream back, and checkpoint, every second or so.
BATCHES_PER_BLOCK = 2
#: Blocks queued on one worker at a time: two hide the round trip to the driver; more would leave one worker with
#: a queue while another idles at the end (or while it is still loading the model at the start).
TASKS_IN_FLIGHT_PER_WORKER = 2
#: At most this many input blocks: each costs the driver tens of KB in Ray's bookkeeping, so a million-file run
#: gets blocks of a thousand files (seconds of work each; the tail they add is nothing beside hours).
MAX_BLOCKS = 1000
CHECKPOINT_ROWS = 5_000
CHECKPOINT_SECONDS = 30.0
PARTS_SUFFIX = ".parts"
SETTINGS_NAME = "settings.json"
_STATE_VERSION = 1
_KEY = "key"  # the input column of names (bytes), passed through to the results for the join
_ORDER = "__order"
_ROW = "__row"


@dataclass(frozen=True)
class WorkerStats:
    """One worker process's share of this run: rows it returned, how many failed, and its busy seconds."""

    worker: str  # host:pid (a restarted worker is a new one)
    rows: int
    failed: int
    seconds: float

    @property
    def photos_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class RayScoreSummary:
    """What a Ray scoring run did: rows in the output, those reused from an earlier run, rate, per worker."""

    scored: int  # rows with a score in the output (earlier runs' included)
    failed: int  # error rows in the output
    seconds: float  # from the call to the written output, Ray's start included
    skipped: int = 0  # folder entries that are not photos (listed beside the output, as by the plain scorer)
    resumed: int = 0  # distinct files whose rows came from an earlier, interrupted run
    processed: int = 0  # distinct files scored by this run
    startup_seconds: float = 0.0  # from the call to the first result (Ray start, workers loading the model)
    startup_rows: int = 0  # rows in that first result (a rate after start-up leaves them out)
    workers: tuple[WorkerStats, ...] = field(default_factory=tuple)
    worker_count: int = 0

    @property
    def photos_per_second(self) -> float:
        """Files scored by this run per second of the whole run (start-up included)."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def text(self, out: str | os.PathLike) -> str:
        """The closing lines: totals, the rate, then one line per worker."""
        lines = [f"scored {self.scored} photo(s), {self.failed} failed"
                 + (" (see the error column)" if self.failed else "")
                 + (f"; {self.resumed} file(s) reused from the interrupted run" if self.resumed else "")
                 + f"; wrote {display_path(out)}",
                 f"this run: {self.processed} file(s) in {self.seconds:.1f} s = {self.photos_per_second:.1f} "
                 f"photos/s on {self.worker_count} Ray worker(s), {self.startup_seconds:.1f} s to the first result"]
        for stats in sorted(self.workers, key=lambda s: s.worker):
            lines.append(f"  worker {stats.worker}: {stats.rows} file(s), {stats.failed} failed, "
                         f"{stats.photos_per_second:.1f} photos/s while busy")
        return "\n".join(lines)


def parts_folder(out: str | os.PathLike) -> Path:
    """Where a run keeps its finished rows until the output is written: `<out>.parts/` beside it."""
    out = Path(out)
    return out.with_name(out.name + PARTS_SUFFIX)


def score_with_ray(model: str | os.PathLike, inputs: Iterable[str | os.PathLike], out: str | os.PathLike, *,
                   workers: int | None = None, address: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                   num_threads: int = 1, progress: bool = False, reasons: bool = False,
                   max_pixels: int = DEFAULT_MAX_PIXELS, checkpoint_rows: int = CHECKPOINT_ROWS,
                   checkpoint_seconds: float = CHECKPOINT_SECONDS, quiet: bool = True,
                   batch_scorer: type[BatchScorer] = BatchScorer) -> RayScoreSummary:
    """Score every photo under `inputs` on Ray and write `out` with the plain scorer's rows (module docstring).

    Uses the Ray instance already running in this process (`ray.init` done by the caller, as the tests do); else
    connects to `address` (`auto`, `ray://HOST:PORT`) or `RAY_ADDRESS`, or starts a local instance for the run.
    `workers` defaults to the CPUs Ray offers. `batch_scorer` is the per-worker class (a subclass can add work);
    `quiet` keeps LiteRT's start-up line out of the workers' logs (the command line's `--verbose` shows it).
    Everything a user can get wrong (output path, model, inputs, an earlier run with other settings) is checked
    before Ray starts.
    """
    started = time.perf_counter()
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    out = check_writable(out)
    kind = model_rows(model)
    kind.load(model, 1, reasons)  # a model or thresholds file that would fail every worker fails here, once, with
    model_bytes = check_tflite_file(model).read_bytes()  # the plain scorer's message; the workers get the bytes
    sources, skipped = resolve_inputs(inputs)
    keys = [source_key(source) for source in sources]
    del sources  # a million Path objects are a few hundred MB the driver does not need from here on
    parts = _Parts.open(parts_folder(out), kind, _settings(model_bytes, kind, reasons, max_pixels))
    done = parts.done_keys()
    todo = [key for key in dict.fromkeys(keys) if key not in done]
    resumed = len(set(keys) & done)
    stats: dict[str, list[float]] = {}
    startup, startup_rows = 0.0, 0
    worker_count = 0
    if todo:
        try:
            first, startup_rows, worker_count = _run_ray(
                todo, parts, stats, model_bytes=model_bytes, workers=workers, address=address, batch_size=batch_size,
                num_threads=num_threads, progress=progress, reasons=reasons, max_pixels=max_pixels,
                checkpoint_rows=checkpoint_rows, checkpoint_seconds=checkpoint_seconds, quiet=quiet,
                batch_scorer=batch_scorer)
        except BaseException as err:
            err.add_note(f"{parts.saved_rows} scored file(s) are saved in {display_path(parts.folder)}; run the same "
                         "command again to score only the rest")
            raise
        startup = first - started
    rows = parts.rows_for(keys)
    counts = [0, 0]
    kind.write(_counted(rows, kind, counts), out, reasons)
    write_skipped_report(out, skipped)
    parts.remove()
    return RayScoreSummary(
        scored=counts[0], failed=counts[1], seconds=time.perf_counter() - started, skipped=len(skipped),
        resumed=resumed, processed=len(todo), startup_seconds=startup, startup_rows=startup_rows,
        worker_count=worker_count,
        workers=tuple(WorkerStats(name, int(n), int(bad), secs) for name, (n, bad, secs) in stats.items()))


def _counted(rows: Iterable[Any], kind: ModelRows, counts: list[int]) -> Iterator[Any]:
    """Pass rows through to the writer, counting scored and failed ones on the way (no second pass)."""
    for row in rows:
        counts[1 if kind.failed(row) else 0] += 1
        yield row


def _settings(model_bytes: bytes, kind: ModelRows, reasons: bool, max_pixels: int) -> dict[str, object]:
    """What decides a row's values: a part made with other settings must not be mixed into this output."""
    return {"version": _STATE_VERSION, "model_sha256": hashlib.sha256(model_bytes).hexdigest(), "reasons": reasons,
            "max_pixels": max_pixels, "row_fields": [f.name for f in dataclasses.fields(kind.row_type)]}


def _run_ray(todo: Sequence[bytes], parts: _Parts, stats: dict[str, list[float]], *,
             model_bytes: bytes, workers: int | None, address: str | None, batch_size: int, num_threads: int,
             progress: bool, reasons: bool, max_pixels: int, checkpoint_rows: int, checkpoint_seconds: float,
             quiet: bool, batch_scorer: type[BatchScorer]) -> tuple[float, int, int]:
    """Stream `todo` through the actor pool into `parts`; returns when the first result came, its rows, and the
    pool size."""
    import ray
    import ray.data

    ours = not ray.is_initialized()
    if ours:
        _init_ray(address, workers)
    first, first_rows = 0.0, 0
    try:
        size = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        context.print_on_execution_start = progress
        batch, block = _batching(len(todo), size, batch_size)
        blocks = [pa.table({_KEY: pa.array(todo[i:i + block], pa.binary())}) for i in range(0, len(todo), block)]
        dataset = ray.data.from_arrow(blocks).map_batches(
            batch_scorer, batch_size=batch, batch_format="pyarrow", zero_copy_batch=True,
            compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=TASKS_IN_FLIGHT_PER_WORKER),
            num_cpus=1,
            fn_constructor_kwargs={"model": model_bytes, "reasons": reasons, "max_pixels": max_pixels,
                                   "num_threads": num_threads, "input_column": _KEY, "quiet": quiet})
        last_save = time.perf_counter()
        try:
            for result in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                if not first:
                    first, first_rows = time.perf_counter(), result.num_rows
                parts.add(result)
                _tally(stats, result)
                if parts.pending_rows >= checkpoint_rows or time.perf_counter() - last_save >= checkpoint_seconds:
                    parts.save()
                    last_save = time.perf_counter()
        finally:
            parts.save()
    finally:
        if ours:
            ray.shutdown()
    return first or time.perf_counter(), first_rows, size


def _batching(files: int, workers: int, batch_size: int) -> tuple[int, int]:
    """(rows per batch, rows per block): `batch_size` and `BATCHES_PER_BLOCK` batches a block, made smaller when
    there are few files, so every worker gets some (Ray bundles blocks up to a batch, so the batch shrinks too),
    and larger when there are so many that the blocks would pass `MAX_BLOCKS`."""
    share = -(-files // workers)  # each worker's share, rounded up
    batch = max(1, min(batch_size, share))
    return batch, max(batch, min(batch * BATCHES_PER_BLOCK, share), -(-files // MAX_BLOCKS))


def _init_ray(address: str | None, workers: int | None) -> None:
    """Connect to a cluster, or start a local instance with at least one CPU per worker asked for."""
    import ray

    if address is None and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_cpus=max(workers or 0, os.cpu_count() or 1), include_dashboard=False)
    else:
        try:
            ray.init(address=address)
        except ConnectionError as err:
            raise InputError(f"--address {address or os.environ.get('RAY_ADDRESS')}: no Ray cluster there ({err})") \
                from err


def _tally(stats: dict[str, list[float]], result: pa.Table) -> None:
    failed = result.column("score").is_null().to_pylist()
    for worker, seconds, bad in zip(result.column("worker").to_pylist(), result.column("seconds").to_pylist(),
                                    failed, strict=True):
        entry = stats.setdefault(worker, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += bad
        entry[2] += seconds


# ------------------------------------------------------------------------------------------------ the parts


class _Parts:
    """Finished rows on disk until the output is written: `part-*.parquet` (key + row fields) and the settings."""

    def __init__(self, folder: Path, kind: ModelRows) -> None:
        self.folder = folder
        self.kind = kind
        self._pending: list[pa.Table] = []
        self.pending_rows = 0
        self.saved_rows = 0
        self._schema = pa.schema([(_KEY, pa.binary()), *row_schema(kind.row_type)])

    @classmethod
    def open(cls, folder: Path, kind: ModelRows, settings: dict[str, object]) -> _Parts:
        """The parts of an earlier run with the same settings, or a fresh folder; other settings are refused."""
        parts = cls(folder, kind)
        settings_file = folder / SETTINGS_NAME
        if settings_file.exists():
            try:
                earlier = json.loads(settings_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InputError(f"{display_path(settings_file)}: unreadable ({err}); remove {display_path(folder)} "
                                 "to score everything again") from err
            if earlier != settings:
                changed = sorted(k for k in settings if earlier.get(k) != settings[k]) if isinstance(earlier, dict) \
                    else ["version"]
                raise InputError(f"{display_path(folder)} holds rows of a run with other settings ({', '.join(changed)}"
                                 f"); rerun with those, or remove the folder to score everything again")
        elif folder.exists() and any(folder.glob("part-*.parquet")):
            raise InputError(f"{display_path(folder)}: parts without {SETTINGS_NAME}; remove the folder to start over")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            write_json(settings_file, settings)
        return parts

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet"))

    def _read(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"{display_path(path)}: unreadable part ({err}); remove it (its files are scored "
                             "again)") from err

    def done_keys(self) -> set[bytes]:
        done: set[bytes] = set()
        for path in self._files():
            done.update(self._read(path, [_KEY]).column(_KEY).to_pylist())
        self.saved_rows = len(done)
        return done

    def add(self, result: pa.Table) -> None:
        self._pending.append(result.select(self._schema.names).cast(self._schema))
        self.pending_rows += result.num_rows

    def save(self) -> None:
        """Write the rows received since the last save as one more part (atomically: a part is whole or absent)."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        with atomic_path(self.folder / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet") as tmp:
            pq.write_table(table, tmp)
        self.saved_rows += table.num_rows
        self._pending, self.pending_rows = [], 0

    def rows_for(self, keys: Sequence[bytes]) -> Iterator[Any]:
        """One row per key, in the order of `keys`, from the parts (the first part's row when a file is in two)."""
        files = self._files()
        saved = pa.concat_tables([self._read(path) for path in files]) if files else self._schema.empty_table()
        # Arrow joins carry no list columns (the reasons), so join the keys to row numbers and take the rows.
        index = pa.table({_KEY: saved.column(_KEY), _ROW: pa.array(range(saved.num_rows), pa.int64())})
        firsts = index.group_by(_KEY, use_threads=False).aggregate([(_ROW, "min")]).rename_columns([_KEY, _ROW])
        wanted = pa.table({_KEY: pa.array(keys, pa.binary()), _ORDER: pa.array(range(len(keys)), pa.int64())})
        joined = wanted.join(firsts, keys=_KEY, join_type="left outer", use_threads=False).sort_by(_ORDER)
        rows = joined.column(_ROW)
        if rows.null_count:
            raise RuntimeError(f"{rows.null_count} input(s) have no row in {self.folder} after the run (a bug); the "
                               "parts are kept, run the same command again to score them")
        ordered = saved.drop_columns([_KEY]).take(rows)
        for batch in ordered.to_batches(max_chunksize=65_536):
            for record in batch.to_pylist():
                yield row_from_record(record, self.kind.row_type)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
