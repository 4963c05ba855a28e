"""Gradient-boosted trees on handcrafted features: a good/bad classifier and a 0–5 regressor (LightGBM).

Why LightGBM: it handles missing values natively (a region feature is NaN when the region is absent), is
deterministic with a fixed seed and thread count, trains 800 photos in well under a second, and saves a
model as a plain-text file that another runtime (an app) can parse and evaluate without Python.

Why the number of boosting rounds is chosen by cross-validation inside the training photos: with a few
hundred photos, early stopping on the validation photos would pick the rounds that flatter exactly the photos
the metrics are then reported on. `lightgbm.cv` on the training photos picks them instead, and the final
model is fitted on all training photos with that many rounds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np

from iqlite.training.core import atomic
from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.core.score_scale import GOOD_THRESHOLD

__all__ = ["GBDTConfig", "GBDTModels", "load_gbdt", "stratified_folds", "train_gbdt"]

CLASSIFIER_FILE = "gbdt_classifier.txt"
REGRESSOR_FILE = "gbdt_regressor.txt"
INFO_FILE = "gbdt_model.json"


@dataclass(frozen=True)
class GBDTConfig:
    """Tree settings for a few hundred to a few thousand photos: shallow, slow, bagged, lightly regularised."""

    learning_rate: float = 0.03
    num_leaves: int = 15
    min_data_in_leaf: int = 15
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    cv_folds: int = 5
    seed: int = 0
    threads: int = 2

    def params(self, objective: str, photos: int) -> dict:
        """LightGBM parameters for `photos` training photos.

        Rounds are selected on log loss, not AUC: AUC is satisfied by the first few trees' ranking, which
        would stop boosting while the probabilities are still near the base rate (0.5 would then mean
        nothing). Leaves need at most 1/20 of the photos, so a small set can still split.
        """
        return {
            "objective": objective,
            "metric": "binary_logloss" if objective == "binary" else "l2",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": max(2, min(self.min_data_in_leaf, photos // 20)),
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }


@dataclass
class GBDTModels:
    """The pair of tree models and the feature order they expect."""

    classifier: lgb.Booster
    regressor: lgb.Booster
    features: tuple[str, ...]
    rounds: dict[str, int] = field(default_factory=dict)

    def predict_score(self, matrix: np.ndarray) -> np.ndarray:
        """0–5 scores (the regressor, clipped to the star range: trees can extrapolate a little past it)."""
        return np.clip(self.regressor.predict(self._check(matrix)), 0.0, 5.0)

    def predict_good_probability(self, matrix: np.ndarray) -> np.ndarray:
        """Probability that people rate the photo good (score >= 2.5)."""
        return self.classifier.predict(self._check(matrix))

    def importance(self, kind: str = "regressor") -> dict[str, float]:
        """Share of the model's total split gain per feature, largest first (sums to 1)."""
        booster = self.regressor if kind == "regressor" else self.classifier
        gain = booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        pairs = sorted(zip(self.features, gain / total, strict=True), key=lambda kv: -kv[1])
        return {name: float(share) for name, share in pairs}

    def save(self, folder: str | os.PathLike) -> list[Path]:
        """Both models as LightGBM text files plus a JSON naming the features in order; atomic writes."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_text(folder / CLASSIFIER_FILE, self.classifier.model_to_string())
        atomic.write_text(folder / REGRESSOR_FILE, self.regressor.model_to_string())
        atomic.write_json(folder / INFO_FILE, {"features": list(self.features), "rounds": self.rounds,
                                               "good_threshold": GOOD_THRESHOLD, "lightgbm": lgb.__version__})
        return [folder / CLASSIFIER_FILE, folder / REGRESSOR_FILE, folder / INFO_FILE]

    def _check(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
            raise ValueError(f"expected a (N, {len(self.features)}) feature matrix, got {matrix.shape}")
        return matrix


def train_gbdt(matrix: np.ndarray, scores: np.ndarray, features: tuple[str, ...],
               config: GBDTConfig = GBDTConfig()) -> GBDTModels:
    """Fit the classifier (good = score >= 2.5) and the regressor on photos' features and 0–5 scores."""
    matrix = np.asarray(matrix, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if matrix.shape != (len(scores), len(features)):
        raise ValueError(f"feature matrix {matrix.shape} does not match {len(scores)} scores x {len(features)} "
                         "features")
    good = (scores >= GOOD_THRESHOLD).astype(np.float64)
    if good.min() == good.max():
        raise InputError(f"all {len(scores)} training photos are {'good' if good[0] else 'bad'} (score "
                         f"{'>=' if good[0] else '<'} {GOOD_THRESHOLD}); the classifier needs both kinds")
    if len(scores) < 2 * config.cv_folds:
        raise InputError(f"{len(scores)} training photos are too few for {config.cv_folds}-fold round selection")
    boosters, rounds = {}, {}
    for kind, objective, label in (("classifier", "binary", good), ("regressor", "regression", scores)):
        params = config.params(objective, len(scores))
        dataset = lgb.Dataset(matrix, label=label, feature_name=list(features), free_raw_data=False)
        history = lgb.cv(params, dataset, num_boost_round=config.max_rounds,
                         folds=stratified_folds(good, config.cv_folds, config.seed),
                         callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)])
        rounds[kind] = len(next(iter(history.values())))
        boosters[kind] = lgb.train(params, dataset, num_boost_round=rounds[kind])
    return GBDTModels(boosters["classifier"], boosters["regressor"], tuple(features), rounds)


def stratified_folds(classes: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded (train, held-out) index pairs with each class spread evenly over the folds.

    Both models use the same folds, stratified by good/bad, so every fold has both kinds of photo (which the
    classifier's AUC needs) and a similar spread of scores.
    """
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(classes), dtype=int)
    offset = 0
    for value in np.unique(classes):
        members = rng.permutation(np.flatnonzero(classes == value))
        fold_of[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    everyone = np.arange(len(classes))
    return [(everyone[fold_of != k], everyone[fold_of == k]) for k in range(folds)]


def load_gbdt(folder: str | os.PathLike) -> GBDTModels:
    """The models `GBDTModels.save` wrote."""
    folder = Path(folder)
    for name in (CLASSIFIER_FILE, REGRESSOR_FILE, INFO_FILE):
        if not (folder / name).is_file():
            raise InputNotFoundError(f"{folder / name} not found: is {folder} a feature-baseline folder?")
    info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    return GBDTModels(lgb.Booster(model_file=str(folder / CLASSIFIER_FILE)),
                      lgb.Booster(model_file=str(folder / REGRESSOR_FILE)),
                      tuple(info["features"]), info.get("rounds", {}))
