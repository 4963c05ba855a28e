"""Shared test helpers: small generated photos and rating tables, no network, no pretrained weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def textured_photo(seed: int, size: int = 96) -> Image.Image:
    """A colourful random-texture 'photo' with edges, so blur visibly destroys detail."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(size // 8, size // 8, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.NEAREST)
    noise = rng.integers(-20, 21, size=(size, size, 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=int) + noise, 0, 255).astype(np.uint8))


@pytest.fixture
def rated_folder(tmp_path: Path) -> tuple[Path, Path]:
    """12 photos (sharp ones rated high, blurred ones low) and a MOS table on 0–100."""
    return make_rated_folder(tmp_path)


def make_rated_folder(tmp_path: Path) -> tuple[Path, Path]:
    """`rated_folder` in any folder (for module- and session-scoped fixtures): (ratings.csv, photos/)."""
    images = tmp_path / "photos"
    images.mkdir()
    rows = ["image,mos"]
    for i in range(12):
        img = textured_photo(i)
        blur = i % 3
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(radius=2 * blur))
        name = f"p{i:02d}.{'jpg' if i % 2 else 'png'}"
        img.save(images / name)
        rows.append(f"{name},{90 - 35 * blur + i}")
    table = tmp_path / "ratings.csv"
    table.write_text("\n".join(rows) + "\n")
    return table, images


def run_export_cli_without_tensorflow(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m export ARGS` in a fresh interpreter that fails if anything imported TensorFlow.

    Scoring must start fast and run where only ai-edge-litert is installed, so a stray import is a bug.
    """
    code = (
        "import runpy, sys\n"
        "sys.argv = ['export'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('iqlite.export', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as done:\n    rc = done.code\n"
        "assert 'tensorflow' not in sys.modules, 'the export CLI imported tensorflow'\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def small_sets(rated_folder):
    """The rated folder at 64 px, split 75/25 into (train, validation) ImageSets."""
    return make_small_sets(*rated_folder)


def make_small_sets(table: Path, images: Path):
    """`small_sets` of the rated folder (table, images)."""
    from iqlite.training.data.dataset import load_image_set, split_train_val
    from iqlite.training.data.rating_tables import read_ratings

    data, _ = load_image_set(read_ratings(table, (0, 100)), images, 64, progress=False)
    tr, va = split_train_val(len(data), data.groups, 0.25, seed=0)
    return data.subset(tr), data.subset(va)


def train_interrupted_after_first_epoch(config, train, val, run_dir: Path, monkeypatch) -> None:
    """Run training in `run_dir` and kill it (KeyboardInterrupt) right after fine-tuning epoch 1 is saved."""
    from iqlite.training.regressor.train import EpochKeeper, TrainingRun

    original = EpochKeeper.on_epoch_end

    def crash_after_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)  # checkpoint and state are written first, as in a real run
        if epoch == 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(EpochKeeper, "on_epoch_end", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        TrainingRun(config, train, val, run_dir, verbose=0).fit()
    monkeypatch.setattr(EpochKeeper, "on_epoch_end", original)
