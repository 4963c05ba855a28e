"""NIMA as a baseline: predict the distribution of ratings over score bins, report its mean (and spread).

NIMA (Talebi and Milanfar, 2018) is what most teams try first: a softmax over rating bins on an ImageNet
backbone, trained with the earth mover's distance between predicted and human rating distributions. It is
offered here on the same backbone and multi-level pooled features as the iqlite regressor, so the two can be
compared on the same folds (`benchmarks/livec_nima.py`) and users can see the narrow-range problem that
marketplaces and users of public NIMA ports report: the mean of a softmax trained toward smooth targets
regresses toward the middle of the scale.

Choices, stated:
- Bins: `N_BINS` = 10 equal bins over 0–5 stars (centres 0.25 ... 4.75), as NIMA's 1–10 scale.
- Targets: the per-photo vote histogram when votes exist (`vote_histogram`); otherwise a normal
  distribution with the photo's MOS and standard deviation, integrated over the bins (`normal_target`;
  LIVE-C publishes a std per photo; a missing std falls back to the data set's median std).
- Loss: squared EMD on the cumulative distributions, r = 2 as in the paper:
  EMD = sqrt(mean_k (CDF_true(k) - CDF_pred(k))^2). The cumulative sum is the whole point: without it the
  loss treats "one bin off" and "nine bins off" the same (a known bug of a public port; tested).
- Outputs: the mean and standard deviation of the predicted distribution (`DistributionMoments`), so the
  exported model has the same uint8 0–5 output range as the regressor (two values instead of one).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from iqlite.training.regressor.keras_setup import keras, tf

__all__ = ["BIN_CENTRES", "N_BINS", "DistributionMoments", "emd", "emd_loss", "normal_target",
           "vote_histogram", "build_nima_head", "distribution_moments", "fixed_size_nima_model", "nima_image_model",
           "train_nima_head"]

N_BINS = 10
BIN_EDGES = np.linspace(0.0, 5.0, N_BINS + 1)
BIN_CENTRES = (BIN_EDGES[:-1] + BIN_EDGES[1:]) / 2
MIN_STD = 0.25  # stars: a target narrower than a bin says more than any rating can


def normal_target(mos: np.ndarray, std: np.ndarray | None) -> np.ndarray:
    """(N, N_BINS) distributions: N(mos, std) integrated over the bins, the tails folded into the end bins."""
    mos = np.asarray(mos, dtype=np.float64).reshape(-1)
    if std is None:
        std = np.full_like(mos, np.nan)
    std = np.asarray(std, dtype=np.float64).reshape(-1)
    fallback = float(np.nanmedian(std)) if np.isfinite(std).any() else 0.8
    std = np.maximum(np.where(np.isfinite(std), std, fallback), MIN_STD)
    cdf = norm.cdf((BIN_EDGES[None, 1:-1] - mos[:, None]) / std[:, None])
    cdf = np.hstack([np.zeros((len(mos), 1)), cdf, np.ones((len(mos), 1))])
    return np.diff(cdf, axis=1)


def vote_histogram(votes: list[np.ndarray]) -> np.ndarray:
    """(N, N_BINS) normalised histograms of each photo's votes on 0–5 stars (a vote on an edge goes up)."""
    rows = []
    for photo_votes in votes:
        stars = np.clip(np.asarray(photo_votes, dtype=np.float64), 0.0, 5.0)
        if stars.size == 0:
            raise ValueError("a photo without votes has no rating distribution")
        index = np.minimum((stars / 5.0 * N_BINS).astype(int), N_BINS - 1)
        rows.append(np.bincount(index, minlength=N_BINS) / stars.size)
    return np.array(rows)


def emd(p_true: np.ndarray, p_pred: np.ndarray, r: float = 2.0) -> np.ndarray:
    """EMD between distributions over ordered bins, per row: (mean_k |CDF_true - CDF_pred|^r)^(1/r)."""
    diff = np.cumsum(np.asarray(p_true, float), axis=-1) - np.cumsum(np.asarray(p_pred, float), axis=-1)
    return np.mean(np.abs(diff) ** r, axis=-1) ** (1.0 / r)


def emd_loss(y_true, y_pred):
    """Keras loss: the r = 2 EMD on cumulative distributions, averaged over the batch."""
    diff = tf.cumsum(y_true, axis=-1) - tf.cumsum(y_pred, axis=-1)
    return tf.reduce_mean(tf.sqrt(tf.reduce_mean(tf.square(diff), axis=-1) + 1e-12))


def distribution_moments(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (stars) of distributions over `BIN_CENTRES`."""
    p = np.asarray(p, dtype=np.float64)
    mean = p @ BIN_CENTRES
    var = p @ (BIN_CENTRES**2) - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


@keras.utils.register_keras_serializable(package="iqlite")
class DistributionMoments(keras.layers.Layer):
    """(batch, N_BINS) probabilities -> (batch, 2): the distribution's mean and standard deviation in stars."""

    def call(self, p):
        centres = tf.constant(BIN_CENTRES, dtype=p.dtype)
        mean = tf.reduce_sum(p * centres, axis=-1, keepdims=True)
        var = tf.reduce_sum(p * tf.square(centres), axis=-1, keepdims=True) - tf.square(mean)
        return tf.concat([mean, tf.sqrt(tf.maximum(var, 0.0) + 1e-12)], axis=-1)


def build_nima_head(feature_dim: int, mean: np.ndarray, variance: np.ndarray, dropout: float = 0.25,
                    seed: int = 0) -> keras.Model:
    """Pooled features -> standardised -> dropout -> Dense(N_BINS, softmax): the part trained with EMD."""
    keras.utils.set_random_seed(seed)
    features = keras.Input(shape=(feature_dim,), name="pooled_features")
    z = keras.layers.Normalization(mean=mean, variance=np.maximum(variance, 1e-12), name="feature_norm")(features)
    z = keras.layers.Dropout(dropout)(z)
    probabilities = keras.layers.Dense(N_BINS, activation="softmax", name="score_bins",
                                       kernel_regularizer=keras.regularizers.l2(1e-4))(z)
    return keras.Model(features, probabilities, name="nima_head")


def nima_image_model(feature_model: keras.Model, head: keras.Model) -> keras.Model:
    """Image -> (mean, std) in stars: the backbone's pooled features, the trained head, the moments."""
    probabilities = head(feature_model.output)
    return keras.Model(feature_model.input, DistributionMoments(name="moments")(probabilities), name="nima")


def fixed_size_nima_model(backbone_model: keras.Model, head: keras.Model, image_size: int) -> keras.Model:
    """`nima_image_model` behind a fixed (1, S, S, 3) input: what the int8 converter and the apps need."""
    from iqlite.training.regressor.model import pooled_feature_model

    image = keras.Input(shape=(image_size, image_size, 3), batch_size=1)
    return keras.Model(image, nima_image_model(pooled_feature_model(backbone_model), head)(image))


def train_nima_head(train_x: np.ndarray, train_p: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, *,
                    epochs: int = 300, patience: int = 30, learning_rate: float = 1e-3, batch_size: int = 32,
                    seed: int = 0) -> tuple[keras.Model, dict]:
    """Adam on the EMD loss; the epoch kept is the one with the best validation SRCC of the predicted mean."""
    from iqlite.training.core import metrics

    x = np.asarray(train_x, np.float32)
    head = build_nima_head(x.shape[1], x.mean(0), x.var(0), seed=seed)
    head.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=emd_loss)
    best = {"srcc": -math.inf, "epoch": -1, "weights": head.get_weights()}
    waited = 0
    for epoch in range(epochs):
        history = head.fit(x, np.asarray(train_p, np.float32), batch_size=batch_size, epochs=1, verbose=0,
                           shuffle=True)
        mean, _ = distribution_moments(head.predict(np.asarray(val_x, np.float32), verbose=0))
        srcc = metrics.srcc(mean, val_y)
        if srcc > best["srcc"] + 1e-6:
            best = {"srcc": srcc, "epoch": epoch, "weights": head.get_weights(),
                    "loss": float(history.history["loss"][-1])}
            waited = 0
        else:
            waited += 1
            if waited >= patience:
                break
    head.set_weights(best["weights"])
    return head, {"best_epoch": best["epoch"], "val_srcc": best["srcc"], "epochs_run": epoch + 1}
