"""The metrifier's data set: labelled task samples, degraded along graded ladders, each read by the task.

`build_dataset` makes, for each document (a seed), the task's labelled sample (`Task.make_sample`), its
versions (`degradations.document_versions`: clean, eight families at two levels each, three mixes), the
task network's error on every version (`Task.evaluate`), and the version as the metrifier sees it
(preprocessed once with `iqlite.training.core.images.resize_for_model`, the function `export score` uses).

- Splits: documents `d00000 ..` use training fonts and words; every `val_every`-th of them is validation.
  Documents `t00000 ..` are the held-out test set: fonts and words training never sees
  (`documents.HELD_OUT_FAMILIES`, `documents.vocabulary`). Their versions are also written as PNG files
  (`images/`), the photos the benchmark and `export score` read. Test documents are built first.
- Resumable: one part per document (`parts/ID.npy` with the model inputs, then `parts/ID.json` with its rows,
  written last and atomically), so a killed build continues with the documents not yet done. The settings
  that fix a document's contents are fingerprinted in `dataset.json` and a build with others into the same
  folder is refused; the document counts are not among them, so a data set can grow (or be cut) later.
- Parallel: a spawn `ProcessPoolExecutor` (Tesseract at one thread per process), with a progress bar.
- A document that fails (a Tesseract crash on one version) gets an error row and the build goes on.

TensorFlow-free.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from iqlite.training.core import atomic
from iqlite.training.core.errors import InputError, InputNotFoundError, UserError, display_path
from iqlite.training.core.images import resize_for_model
from iqlite.training.task_quality.degradations import FAMILIES, degrade, document_versions
from iqlite.training.task_quality.tasks import get_task

__all__ = ["BuildSettings", "BuildSummary", "DATASET_FILE", "TABLE_COLUMNS", "TABLE_FILE", "TaskData",
           "build_dataset", "document_split", "load_split", "read_table"]

DATASET_FILE = "dataset.json"
TABLE_FILE = "table.csv"
PARTS_DIR = "parts"
IMAGES_DIR = "images"
SPLITS = ("train", "val", "test")
#: Columns of table.csv, one row per version of a document.
TABLE_COLUMNS = ("document", "split", "version", "family", "level", "accuracy", "error", "layout", "font",
                 "text_px", "image", "output", "failure")


class DatasetMismatchError(UserError, RuntimeError):
    """The folder holds a data set built with other settings; resuming would mix two data sets."""


@dataclass(frozen=True)
class BuildSettings:
    """Everything that fixes the data set's contents (saved in dataset.json; its fingerprint guards resumes)."""

    task: str = "ocr"
    documents: int = 320  # training + validation documents (training fonts and words)
    test_documents: int = 40  # held-out documents (held-out fonts and words)
    val_every: int = 8  # every val_every-th training document is validation
    levels_per_family: int = 2
    mixes: int = 3
    image_size: int = 320  # the metrifier's input side: versions are stored preprocessed at this size
    seed: int = 0

    def contents(self) -> dict:
        """The settings a document's contents depend on (all but the counts)."""
        d = asdict(self)
        d.pop("documents")
        d.pop("test_documents")
        return d

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.contents(), sort_keys=True).encode()).hexdigest()[:16]

    def document_ids(self) -> list[str]:
        """Every document's id, test documents first (so a build stopped early can still be evaluated)."""
        return [f"t{n:05d}" for n in range(self.test_documents)] + [f"d{n:05d}" for n in range(self.documents)]

    def document_seed(self, doc_id: str) -> int:
        return self.seed * 1_000_003 + (500_000 if doc_id[0] == "t" else 0) + int(doc_id[1:])

    def total(self) -> int:
        return self.documents + self.test_documents


@dataclass
class BuildSummary:
    documents: int
    built: int  # documents processed by this call
    skipped: int  # already there (resumed)
    versions: int
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def document_split(settings: BuildSettings, doc_id: str) -> str:
    if doc_id[0] == "t":
        return "test"
    # The last of every val_every documents (of the first ones, for a set smaller than that: tests)
    return "val" if int(doc_id[1:]) % settings.val_every == min(settings.val_every, settings.documents) - 1 else "train"


def _part_paths(out: Path, doc_id: str) -> tuple[Path, Path]:
    return out / PARTS_DIR / f"{doc_id}.npy", out / PARTS_DIR / f"{doc_id}.json"


def build_document(settings: BuildSettings, doc_id: str, out: Path) -> dict:
    """Render, degrade, read and store one document; returns its part record (also written as its .json)."""
    task = get_task(settings.task)
    split = document_split(settings, doc_id)
    seed = settings.document_seed(doc_id)
    started = time.monotonic()
    sample = task.make_sample(seed, held_out=split == "test")
    inputs, rows = [], []
    for version in document_versions(seed, settings.levels_per_family, settings.mixes):
        image = degrade(sample.image, version, sample.text_px, seed)
        row = {"document": doc_id, "split": split, "version": version.name, "family": version.family,
               "level": version.level, "layout": sample.meta.get("layout", ""), "font": sample.meta.get("font", ""),
               "text_px": round(sample.text_px, 2), "image": "", "output": "", "failure": ""}
        try:
            result = task.evaluate(image, sample.truth)
            row.update(accuracy=round(1.0 - result.error, 5), error=round(result.error, 5), output=result.output)
        except Exception as err:  # a task network crash on one version: its own error row, the rest goes on
            row.update(accuracy="", error="", failure=f"{type(err).__name__}: {err}")
        if split == "test":
            name = f"{doc_id}_{version.name}.png"
            with atomic.atomic_path(out / IMAGES_DIR / name) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
            row["image"] = f"{IMAGES_DIR}/{name}"
        inputs.append(resize_for_model(image, settings.image_size))
        rows.append(row)
    npy_path, json_path = _part_paths(out, doc_id)
    with atomic.atomic_path(npy_path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.stack(inputs))
    record = {"document": doc_id, "split": split, "truth": sample.truth, "rows": rows,
              "seconds": round(time.monotonic() - started, 2)}
    atomic.write_json(json_path, record)
    return record


def _worker(settings_dict: dict, doc_id: str, out: str) -> tuple[str, dict | None, str]:
    """Process-pool entry point: never raises, so one bad document cannot stop the build."""
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one Tesseract thread per worker process: the processes are the parallelism
    try:
        return doc_id, build_document(BuildSettings(**settings_dict), doc_id, Path(out)), ""
    except UserError as err:
        return doc_id, None, f"document {doc_id}: {err}"
    except Exception as err:  # noqa: BLE001 - reported as the document's error row
        return doc_id, None, f"document {doc_id}: {type(err).__name__}: {err}"


def _worker_here(settings_dict: dict, doc_id: str, out: str) -> tuple[str, dict | None, str]:
    """`_worker` in this process, leaving its environment (and Tesseract's threads) as they are."""
    saved = os.environ.get("OMP_THREAD_LIMIT")
    try:
        return _worker(settings_dict, doc_id, out)
    finally:
        if saved is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = saved


def _check_settings(out: Path, settings: BuildSettings) -> None:
    path = out / DATASET_FILE
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
        stored_contents = {k: v for k, v in stored.items() if k not in ("documents", "test_documents")}
        if stored and stored_contents != settings.contents():
            raise DatasetMismatchError(f"{display_path(out)} holds a data set built with other settings "
                                       f"({stored_contents}); use another --out folder")
    atomic.write_json(path, {"settings": asdict(settings), "fingerprint": settings.fingerprint(), "complete": False})


def build_dataset(settings: BuildSettings, out: str | os.PathLike, *, workers: int = 1, progress: bool = True,
                  log: Callable[[str], None] = print) -> BuildSummary:
    """Build (or finish building) the data set in `out`; writes table.csv and dataset.json when done."""
    out_dir = atomic.check_writable(out, folder=True)
    task = get_task(settings.task)
    if hasattr(task, "check"):
        task.check()  # a missing Tesseract fails here, once, with the fix
    _check_settings(out_dir, settings)
    (out_dir / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    todo = [d for d in settings.document_ids() if not _part_paths(out_dir, d)[1].is_file()]
    skipped = settings.total() - len(todo)
    if skipped:
        log(f"resuming {display_path(out_dir)}: {skipped} of {settings.total()} documents already built")
    errors: list[str] = []
    bar = tqdm(total=len(todo), desc=f"{settings.task} documents", unit="doc", disable=not progress)
    if workers <= 1:
        for doc_id in todo:
            _, _, error = _worker_here(asdict(settings), doc_id, str(out_dir))
            if error:
                errors.append(error)
            bar.update(1)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_worker, asdict(settings), i, str(out_dir)) for i in todo]
            for future in as_completed(futures):
                _, _, error = future.result()
                if error:
                    errors.append(error)
                bar.update(1)
    bar.close()
    rows = _merge(out_dir, settings)
    summary = BuildSummary(documents=settings.total(), built=len(todo), skipped=skipped, versions=len(rows),
                           errors=sorted(errors), seconds=time.monotonic() - started)
    _write_summary(out_dir, settings, rows, summary)
    return summary


def _merge(out: Path, settings: BuildSettings) -> list[dict]:
    rows = []
    for doc_id in settings.document_ids():
        json_path = _part_paths(out, doc_id)[1]
        if json_path.is_file():
            rows.extend(json.loads(json_path.read_text(encoding="utf-8"))["rows"])
    atomic.write_csv(out / TABLE_FILE, list(TABLE_COLUMNS), [[row.get(c, "") for c in TABLE_COLUMNS] for row in rows])
    return rows


def _write_summary(out: Path, settings: BuildSettings, rows: list[dict], summary: BuildSummary) -> None:
    by_family: dict[str, dict] = {}
    for family in FAMILIES:
        values = [float(r["accuracy"]) for r in rows if r["family"] == family and r["accuracy"] != ""]
        by_family[family] = {"versions": len(values), "mean_accuracy": float(np.mean(values)) if values else None}
    by_level: dict[str, float | None] = {}
    for row in rows:
        key = row["version"] if row["family"] not in ("clean", "mix") else row["family"]
        by_level.setdefault(key, [])  # type: ignore[arg-type]
        if row["accuracy"] != "":
            by_level[key].append(float(row["accuracy"]))  # type: ignore[union-attr]
    counts = {s: sum(1 for r in rows if r["split"] == s) for s in SPLITS}
    failures = [f"document {r['document']} {r['version']}: {r['failure']}" for r in rows if r["failure"]]
    atomic.write_json(out / DATASET_FILE, {
        "settings": asdict(settings), "fingerprint": settings.fingerprint(),
        "complete": not summary.errors and len({r["document"] for r in rows}) == settings.total(),
        "documents_per_split": {s: len({r["document"] for r in rows if r["split"] == s}) for s in SPLITS},
        "versions": len(rows), "versions_per_split": counts, "errors": summary.errors + failures,
        "mean_accuracy_per_family": by_family,
        "mean_accuracy_per_version": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_level.items()) if v},
        "build_seconds_last_call": round(summary.seconds, 1),
    })


@dataclass
class TaskData:
    """One split in memory: model inputs, the task's accuracy (1 - error) and the family of each version."""

    inputs: np.ndarray  # (N, S, S, 3) uint8
    accuracy: np.ndarray  # (N,) float32 in [0, 1]
    family: np.ndarray  # (N,) int index into FAMILIES
    rows: list[dict]

    def __len__(self) -> int:
        return len(self.accuracy)


def read_table(folder: str | os.PathLike) -> list[dict]:
    path = Path(folder) / TABLE_FILE
    if not path.is_file():
        raise InputNotFoundError(f"{display_path(path)} not found: build the data set first "
                                 "(python -m training task-quality --task ocr --out DIR)")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_split(folder: str | os.PathLike, split: str, limit: int | None = None) -> TaskData:
    """The versions of one split (train, val or test) with a measured accuracy, in document order.

    Versions whose task run failed (no accuracy) are left out; the table and dataset.json list them.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    root = Path(folder)
    table = [r for r in read_table(root) if r["split"] == split]
    documents = sorted({r["document"] for r in table})[: limit if limit else None]
    inputs, accuracy, family, rows = [], [], [], []
    for doc_id in documents:
        npy_path, json_path = _part_paths(root, doc_id)
        part = json.loads(json_path.read_text(encoding="utf-8"))["rows"]
        with open(npy_path, "rb") as f:
            arrays = np.load(f)
        if len(arrays) != len(part):
            raise InputError(f"{display_path(npy_path)} holds {len(arrays)} versions, its .json {len(part)}: "
                             "delete both and build again")
        for array, row in zip(arrays, part, strict=True):
            if row["accuracy"] == "" or not math.isfinite(float(row["accuracy"])):
                continue
            inputs.append(array)
            accuracy.append(float(row["accuracy"]))
            family.append(FAMILIES.index(row["family"]))
            rows.append(row)
    if not rows:
        raise InputError(f"{display_path(root)} has no {split} versions with a measured accuracy")
    return TaskData(np.stack(inputs), np.asarray(accuracy, np.float32), np.asarray(family, np.int64), rows)
