"""What the benchmark scripts share: where things are, LIVE-C's 5 folds, and how results are written.

Every benchmark runs from the repository root as a module, `python -m benchmarks.NAME`, so `training`,
`export` and `tests` import as packages without editing `sys.path`.

The LIVE-C benchmarks (livec_cv, livec_linear_probe, livec_nima, and livec_gbdt through livec_cv's
predictions file) must score every method on the very same held-out photos, so the fold assignment lives
here once: changing it would silently make their tables incomparable with the committed ones.

Only the standard library is imported at module level: tflite_latency's and arm_check's workers import
this module in interpreters that must load nothing but numpy and LiteRT (an emulated arm64 Python has
nothing else), so numpy and `training` are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from iqlite.training.data.rating_tables import RatingTable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"  # caches and per-fold run folders; ignored by git
SHARED_DATA = ROOT.parent / "shared" / "data"

LIVEC_DATA = SHARED_DATA / "live_challenge_dev"
LIVEC_LABELS = LIVEC_DATA / "labels.csv"
LIVEC_SCORE_RANGE = (0, 100)  # LIVE-C's MOS scale, mapped to iqlite's 0-5 on reading
LIVEC_DATASET = "LIVE-C development part (../shared/data/live_challenge_dev), MOS 0-100 mapped to 0-5"
LIVEC_FOLDS = 5
LIVEC_FOLD_SEED = 0
CV_RESULTS = RESULTS / "livec_cv.json"
CV_PREDICTIONS = RESULTS / "livec_cv_predictions.csv"  # every photo's fold and held-out CNN scores
NIMA_PREDICTIONS = RESULTS / "livec_nima_predictions.csv"

#: Headline metrics averaged over folds in the LIVE-C cross-validation tables (keys of `metrics.evaluate`).
CV_SUMMARY_KEYS = ("srcc", "plcc", "krcc", "rmse", "mae", "auc_good")


# ------------------------------------------------------------------------------------------ LIVE-C folds


def read_livec(labels: Path = LIVEC_LABELS) -> RatingTable:
    """LIVE-C's rating table on iqlite's 0-5 scale; its row order is what the folds index."""
    from iqlite.training.data.rating_tables import read_ratings

    return read_ratings(labels, LIVEC_SCORE_RANGE)


def fold_indices(n: int, folds: int = LIVEC_FOLDS, seed: int = LIVEC_FOLD_SEED) -> list[np.ndarray]:
    """Test indices of each fold: a seeded permutation cut into `folds` nearly equal parts, each sorted.

    Seeded rather than stratified so any script can rebuild the split from `n` alone; the committed
    livec_cv_predictions.csv records the same assignment per photo (a test checks that they agree).
    """
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def fold_splits(
    n: int, folds: int = LIVEC_FOLDS, seed: int = LIVEC_FOLD_SEED
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) of each fold of `fold_indices`, in fold order: train is the rest."""
    import numpy as np

    everything = np.arange(n)
    for test in fold_indices(n, folds, seed):
        yield np.setdiff1d(everything, test), test


def read_cv_predictions(path: Path = CV_PREDICTIONS) -> dict[str, dict[str, float | int]]:
    """Per image: fold, float CNN score and int8 (QAT) CNN score (NaN if none), as livec_cv wrote them."""
    import csv

    import numpy as np

    if not path.is_file():
        raise SystemExit(f"{path} not found: run `python -m benchmarks.livec_cv` first (it writes every photo's fold)")
    with open(path, newline="", encoding="utf-8") as f:
        return {row["image"]: {"fold": int(row["fold"]), "float": float(row["float"]),
                               "int8": float(row["int8_qat"]) if row["int8_qat"] else np.nan}
                for row in csv.DictReader(f)}


def mean_std(per_fold: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """`KEY_mean` and `KEY_std` over the folds that have KEY, for each key in order (absent everywhere: left out)."""
    import numpy as np

    out: dict[str, float] = {}
    for key in keys:
        values = [f[key] for f in per_fold if key in f]
        if values:
            array = np.array(values, dtype=float)
            out[f"{key}_mean"], out[f"{key}_std"] = float(np.mean(array)), float(np.std(array))
    return out


def summarise_cv(per_fold: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean and std over folds of every headline metric, plus the mean spread of predictions and of humans.

    Shared so that the linear probe's entry in livec_cv.json has exactly the shape of the CNN's "float".
    """
    import numpy as np

    out = mean_std(per_fold, CV_SUMMARY_KEYS)
    out["predicted_std_mean"] = float(np.mean([f["predicted_spread"]["std"] for f in per_fold]))
    out["human_std_mean"] = float(np.mean([f["human_spread"]["std"] for f in per_fold]))
    return out


# -------------------------------------------------------------------------------------------- results


def markdown_row(cells: Iterable[object]) -> str:
    """One row of a Markdown table (cells are written as given: escape any `|` in them first)."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_header(columns: Sequence[str]) -> list[str]:
    """A Markdown table's header row and its separator line."""
    return [markdown_row(columns), "|" + "---|" * len(columns)]


def load_results(path: Path) -> dict[str, Any]:
    """An existing results file, or {}: scripts that add their entry to a shared file keep the others."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_results(path: Path, results: Mapping[str, Any], table: str | None = None) -> None:
    """The results JSON and, when given, its Markdown table beside it (.md), each written atomically.

    Atomic because a benchmark interrupted while writing must not leave a truncated file under the name the
    README and other benchmarks read.
    """
    from iqlite.training.core import atomic

    atomic.write_json(path, results)
    if table is not None:
        atomic.write_text(path.with_suffix(".md"), table)


def cpu_model() -> str:
    """The CPU the numbers were measured on: /proc/cpuinfo's model name, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def command_line(name: str, *args: str) -> str:
    """How a results file says it was made: the `python -m benchmarks.NAME ...` that reproduces it."""
    return shlex.join(["python", "-m", f"benchmarks.{name}", *args])


# ------------------------------------------------------------------------------------ worker processes


def module_argv(name: str, python: Sequence[str] = (sys.executable,)) -> list[str]:
    """The command that runs benchmark NAME as a module with `python` (e.g. under an emulator)."""
    return [*python, "-m", f"benchmarks.{name}"]


def with_root_on_path(env: Mapping[str, str], *first: str | os.PathLike[str], keep: bool = True) -> dict[str, str]:
    """A copy of `env` whose PYTHONPATH finds `first`, then the repository (so `-m benchmarks.NAME` works from
    any folder), then, with `keep`, what PYTHONPATH already held."""
    parts = [*(str(p) for p in first), str(ROOT)]
    if keep and env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    return {**env, "PYTHONPATH": os.pathsep.join(parts)}
