"""benchmarks.common: the LIVE-C folds every cross-validated table relies on, and the shared plumbing.

The fold assignment is pinned to the values the benchmarks have always used (computed before the code
moved here): if it changed, new numbers would be silently incomparable with the committed tables and
with livec_cv_predictions.csv, which later benchmarks read their folds from.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import common

BENCHMARKS = sorted(p for p in (common.ROOT / "benchmarks").glob("*.py") if p.name not in ("__init__.py", "common.py"))

#: sha256 of the 5 folds of LIVE-C dev's 820 photos (seed 0) concatenated as int64, from the pre-refactor code.
LIVEC_820_SHA256 = "fabc9e9eb1da5ed728fcc5de1e3ac733024395bdab0f10bb9d25d9bd33c7eb3c"


def _fingerprint(folds: list[np.ndarray]) -> str:
    return hashlib.sha256(np.concatenate([np.asarray(f, np.int64) for f in folds]).tobytes()).hexdigest()


@pytest.mark.parametrize(("n", "folds", "seed"), [(820, 5, 0), (7, 2, 0), (5, 5, 1), (101, 10, 3), (3, 5, 0)])
def test_folds_partition_every_photo_into_nearly_equal_sorted_parts(n, folds, seed):
    parts = common.fold_indices(n, folds, seed)
    assert len(parts) == folds
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))  # each photo in exactly one fold
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert all(np.array_equal(p, np.sort(p)) for p in parts)
    assert all(np.array_equal(a, b) for a, b in zip(parts, common.fold_indices(n, folds, seed), strict=True))


def test_folds_are_the_ones_the_committed_results_used():
    assert (common.LIVEC_FOLDS, common.LIVEC_FOLD_SEED) == (5, 0)
    folds = common.fold_indices(820)
    assert _fingerprint(folds) == LIVEC_820_SHA256
    assert [f[:6].tolist() for f in folds] == [[2, 5, 8, 12, 13, 19], [15, 18, 20, 27, 35, 41], [0, 17, 24, 33, 37, 38],
                                               [4, 6, 9, 10, 14, 31], [1, 3, 7, 11, 16, 21]]
    assert [f.tolist() for f in common.fold_indices(7, 2, 0)] == [[2, 3, 4, 6], [0, 1, 5]]
    assert [f.tolist() for f in common.fold_indices(5, 5, 1)] == [[4], [0], [1], [2], [3]]


@pytest.mark.skipif(not common.LIVEC_LABELS.is_file(), reason="LIVE-C dev not in ../shared/data")
def test_folds_match_every_photo_fold_in_the_committed_predictions():
    names = [item.image for item in common.read_livec().items]
    ours = {names[i]: k for k, idx in enumerate(common.fold_indices(len(names))) for i in idx}
    recorded = {name: row["fold"] for name, row in common.read_cv_predictions().items()}
    assert ours == recorded
    with open(common.NIMA_PREDICTIONS, newline="", encoding="utf-8") as f:
        assert {row["image"]: int(row["fold"]) for row in csv.DictReader(f)} == ours


def test_fold_splits_train_on_the_rest():
    n = 23
    splits = list(common.fold_splits(n, 4, 2))
    assert len(splits) == 4
    for (train, test), expected in zip(splits, common.fold_indices(n, 4, 2), strict=True):
        assert np.array_equal(test, expected)
        assert np.array_equal(train, np.setdiff1d(np.arange(n), test))


def test_summaries_average_over_folds_and_skip_absent_keys():
    per_fold = [{"srcc": 0.8, "auc": 0.9}, {"srcc": 0.6}]
    assert common.mean_std(per_fold, ["srcc", "auc", "missing"]) == pytest.approx(
        {"srcc_mean": 0.7, "srcc_std": 0.1, "auc_mean": 0.9, "auc_std": 0.0})
    fold = {key: 1.0 for key in common.CV_SUMMARY_KEYS} | {"predicted_spread": {"std": 0.5},
                                                           "human_spread": {"std": 0.7}}
    summary = common.summarise_cv([fold, fold | {"srcc": 0.0, "predicted_spread": {"std": 0.3}}])
    assert list(summary)[:2] == ["srcc_mean", "srcc_std"] and list(summary)[-2:] == ["predicted_std_mean",
                                                                                       "human_std_mean"]
    assert summary["srcc_mean"] == 0.5 and summary["predicted_std_mean"] == pytest.approx(0.4)


def test_markdown_table_lines():
    assert common.markdown_header(["a", "b c"]) == ["| a | b c |", "|---|---|"]
    assert common.markdown_row(["x", 3, ""]) == "| x | 3 |  |"


def test_results_and_their_table_are_written_side_by_side(tmp_path):
    out = tmp_path / "new" / "bench.json"
    common.write_results(out, {"srcc": np.float64(0.5), "n": 3}, "| t |\n")
    assert out.read_text() == json.dumps({"srcc": 0.5, "n": 3}, indent=2) + "\n"
    assert out.with_suffix(".md").read_text() == "| t |\n"
    assert common.load_results(out) == {"srcc": 0.5, "n": 3}
    assert common.load_results(tmp_path / "absent.json") == {}
    assert sorted(p.name for p in out.parent.iterdir()) == ["bench.json", "bench.md"]  # no temporary files left


def test_commands_and_worker_environment():
    assert common.command_line("fuzz_images", "--cases", "200") == "python -m benchmarks.fuzz_images --cases 200"
    assert common.module_argv("arm_check", ["qemu", "py"]) == ["qemu", "py", "-m", "benchmarks.arm_check"]
    env = common.with_root_on_path({"PYTHONPATH": "/old", "X": "1"}, "/site")
    assert env == {"PYTHONPATH": f"/site:{common.ROOT}:/old", "X": "1"}
    assert common.with_root_on_path({"PYTHONPATH": "/old"}, keep=False)["PYTHONPATH"] == str(common.ROOT)


def test_importing_common_loads_no_numpy_or_training():
    """The latency and ARM workers import it in interpreters that may load only numpy and LiteRT."""
    code = ("import sys, benchmarks.common, benchmarks.tflite_latency, benchmarks.arm_check; "
            "print(sorted(set(sys.modules) & {'numpy', 'iqlite', 'iqlite.training', 'iqlite.export', 'tensorflow'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=common.ROOT, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmarks_are_modules_without_path_hacks(script):
    """Run as `python -m benchmarks.NAME`: no sys.path edits, no import-order escapes, usage says so."""
    source = script.read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            pytest.fail(f"{script.name}:{node.lineno}: edits or reads sys.path")
    assert "noqa: E402" not in source
    docstring = ast.get_docstring(tree) or ""
    assert f"python benchmarks/{script.name}" not in source
    assert f"-m benchmarks.{script.stem}" in docstring
