"""Phase-2 losses: mean squared error, and terms that match the metrics we are judged by (SRCC, PLCC).

MSE on 0–5 stars rewards getting every photo's level right; the benchmarks only ask for the right order
(SRCC) and the right linear trend (PLCC), and the spread calibration refits the level after training anyway.
Two in-batch terms aim at that directly:

- `pairwise_rank_hinge`: for each pair of photos in the batch whose human scores differ by at least
  `min_gap` stars, a hinge on the predicted difference having the wrong sign (or being smaller than
  `margin`). Pairs are free: 16 photos make 120.
- `plcc_loss`: 1 - Pearson correlation of predictions and targets within the batch ("norm-in-norm" style:
  invariant to the scale and offset of the prediction, so it does not fight the calibration).

`make_loss(name, rank_weight)` builds what `TrainConfig.loss` names.

Compression-aware training with `compression_loss="pairs"` (docs/compression_aware.md) wraps it in
`with_ladder_pairs`: batches then carry, after their rated photos, ladder pairs (a photo, then the same crop
of one of its encoded versions), and targets carry a role column. The rated photos get the base loss; a
pair gets the squared error of its predicted drop (photo minus version) against the drop derived from
SSIMULACRA 2. The pair term never sees the photo's MOS level, so ladder photos do not count double in the
MOS fit (what absolute derived targets do: every version repeats its photo's MOS).
"""

from __future__ import annotations

from collections.abc import Callable

from iqlite.training.regressor.config import LOSSES
from iqlite.training.regressor.keras_setup import tf

RANK_MARGIN = 0.1  # stars: a correct order must also be a clear one
RANK_MIN_GAP = 0.1  # stars: pairs closer than this in human score are ties and say nothing about order


def pairwise_rank_hinge(y_true: tf.Tensor, y_pred: tf.Tensor, margin: float = RANK_MARGIN,
                        min_gap: float = RANK_MIN_GAP) -> tf.Tensor:
    """Mean of relu(margin - sign(y_i - y_j) * (p_i - p_j)) over the batch's pairs with |y_i - y_j| >= min_gap."""
    y = tf.reshape(tf.cast(y_true, tf.float32), [-1])
    p = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
    dy = y[:, None] - y[None, :]
    dp = p[:, None] - p[None, :]
    counted = tf.cast(dy >= min_gap, tf.float32)  # each unordered pair once, the better photo first
    hinge = tf.nn.relu(margin - dp) * counted
    return tf.math.divide_no_nan(tf.reduce_sum(hinge), tf.reduce_sum(counted))


def plcc_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """1 - Pearson correlation within the batch (0 when predictions follow targets exactly, up to scale)."""
    y = tf.reshape(tf.cast(y_true, tf.float32), [-1])
    p = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
    y = y - tf.reduce_mean(y)
    p = p - tf.reduce_mean(p)
    corr = tf.reduce_sum(y * p) / (tf.norm(y) * tf.norm(p) + 1e-6)
    return 1.0 - corr


def make_loss(name: str, rank_weight: float = 1.0) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The phase-2 loss `name` (one of LOSSES)."""
    if name == "mse":
        return _mse
    if name == "mse+rank":
        def mse_rank(y_true, y_pred):
            return _mse(y_true, y_pred) + rank_weight * pairwise_rank_hinge(y_true, y_pred)
        return mse_rank
    if name == "plcc+rank":
        def plcc_rank(y_true, y_pred):
            return plcc_loss(y_true, y_pred) + rank_weight * pairwise_rank_hinge(y_true, y_pred)
        return plcc_rank
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


#: Role column of the targets in ladder-pair batches (`with_ladder_pairs`).
ROLE_RATED, ROLE_PAIR_PHOTO, ROLE_PAIR_VERSION = 0.0, 1.0, 2.0


def with_ladder_pairs(base: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
                      pair_weight: float = 1.0) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """`base` on the rated rows plus `pair_weight` x mean squared error of each pair's predicted drop.

    y_true is (B, 2): (target, role). Rated rows: target = score. Pair rows: the photos of the pairs, then
    their versions in the same order, each with target = the derived drop in stars.
    """
    def loss(y_true, y_pred):
        y = tf.cast(tf.reshape(y_true, [-1, 2]), tf.float32)
        p = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        role = y[:, 1]
        rated = tf.equal(role, ROLE_RATED)
        photos, versions = tf.equal(role, ROLE_PAIR_PHOTO), tf.equal(role, ROLE_PAIR_VERSION)
        drop = tf.boolean_mask(p, photos) - tf.boolean_mask(p, versions)
        pair = tf.reduce_mean(tf.square(drop - tf.boolean_mask(y[:, 0], photos)))
        pair = tf.where(tf.reduce_any(photos), pair, 0.0)
        return base(tf.boolean_mask(y[:, 0], rated), tf.boolean_mask(p, rated)) + pair_weight * pair
    return loss


def _mse(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    diff = tf.reshape(tf.cast(y_pred, tf.float32), [-1]) - tf.reshape(tf.cast(y_true, tf.float32), [-1])
    return tf.reduce_mean(tf.square(diff))
