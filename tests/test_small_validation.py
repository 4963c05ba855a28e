"""A small or narrow validation set cannot wreck the model: the ridge penalty is cross-validated on the training
photos instead, and the spread calibration is fitted on every photo (issue 13: one scene of 29 photos once set
a calibration that pushed every other scene to the top of the scale)."""

from __future__ import annotations

import numpy as np

from iqlite.training.data.dataset import ImageSet
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.ridge_head import cross_validated_penalty
from iqlite.training.regressor.train import TrainingRun


def _set(n: int, scores: np.ndarray, prefix: str) -> ImageSet:
    return ImageSet(images=np.zeros((n, 8, 8, 3), np.uint8), scores=scores.astype(np.float32),
                    names=[f"{prefix}{i}" for i in range(n)], groups=[f"{prefix}g{i // 3}" for i in range(n)])


def test_cross_validated_penalty_finds_the_penalty_the_data_needs() -> None:
    rng = np.random.default_rng(0)
    n, d = 120, 40
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    signal = x @ w
    y = 5 / (1 + np.exp(-signal / signal.std()))  # every feature matters: a light penalty is right
    groups = [f"g{i // 4}" for i in range(n)]
    mirror = x + rng.normal(scale=0.01, size=x.shape)
    light, light_srcc = cross_validated_penalty(x, mirror, y, groups, (0.1, 1000.0, 100000.0))
    assert light == 0.1 and light_srcc > 0.9
    y_noisy = 5 / (1 + np.exp(-(x[:, 0] + 3 * rng.normal(size=n))))  # one weak feature: shrink hard
    heavy, _ = cross_validated_penalty(x, mirror, y_noisy, groups, (0.001, 1000.0))
    assert heavy == 1000.0


def test_calibration_uses_every_photo_when_validation_is_small_or_narrow(tmp_path) -> None:
    config = TrainConfig.smoke(weights="none")
    train = _set(90, np.linspace(0, 5, 90), "t")
    small_val = _set(29, np.linspace(1, 4, 29), "v")
    photos, where = TrainingRun(config, train, small_val, tmp_path / "a", verbose=0)._calibration_photos()
    assert len(photos) == 119 and "only 29 validation photos (< 80)" in where

    narrow_val = _set(100, np.full(100, 4.6) + np.linspace(0, 0.2, 100), "v")
    photos, where = TrainingRun(config, train, narrow_val, tmp_path / "b", verbose=0)._calibration_photos()
    assert len(photos) == 190 and "narrow" in where

    wide_val = _set(100, np.linspace(0, 5, 100), "v")
    photos, where = TrainingRun(config, train, wide_val, tmp_path / "c", verbose=0)._calibration_photos()
    assert len(photos) == 100 and where == "100 validation photos"
