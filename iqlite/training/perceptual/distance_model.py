"""The fitted distance as one Keras graph: two 256x256 tiles in, their distance (and its map) out.

This is the graph the int8 export converts, so it is written for 8-bit arithmetic:
- The two tiles go through the backbone as one batch of two. Both then share every quantization scale, so
  identical tiles give exactly zero and a difference is never an artefact of two different roundings.
- Only the channels the fit weighs (27 of 547 in the shipped model) are compared: per tap a 1x1
  convolution picks them out, each multiplied by its weight, before the pair difference; the weighted
  absolute differences are summed per position (the tap's distance map) and averaged (its distance).
  The pair difference then costs a few channels instead of up to 192, and each tap keeps its own 8-bit
  scale (the taps' distances are added, never concatenated onto one scale).
- The statistic is the absolute difference: the fit chooses it (docs/perceptual.md), and a squared small
  difference would round to zero in 8 bits.
(A finer copy of the distance clipped to the range where decisions are made was tried and dropped: int8
MINIMUM must keep its input's scale, so the copy had the same ~1-unit steps; the mean over a photo's tiles
averages the rounding anyway.)
The second output is the distance map on a 32x32 grid (tile / 8): per position, the same weighted sum, each
tap's map pooled (finer taps) or repeated (coarser ones) onto the grid, which keeps every tap's mean; so the
map's mean is the distance, and a saliency-weighted mean of it is the saliency-weighted distance.
"""

from __future__ import annotations

import numpy as np

from iqlite.perceptual.tiles import TILE
from iqlite.training.perceptual.fit import DistanceFit
from iqlite.training.perceptual.taps import TAPS, tap_model
from iqlite.training.regressor.keras_setup import keras, tf

__all__ = ["MAP_STRIDE", "build_distance_model"]

MAP_STRIDE = 8


@keras.utils.register_keras_serializable(package="iqlite")
class PairDifference(keras.layers.Layer):
    """|first - second| of a batch of two feature maps (reference, distorted), as a batch of one."""

    def call(self, x):
        return tf.abs(x[0:1] - x[1:2])


def build_distance_model(fit: DistanceFit, weights: str | None = "imagenet", tile: int = TILE) -> keras.Model:
    """Inputs `reference` and `distorted` (1 x tile x tile x 3, 0-255); outputs `distance` (1 x 1) and
    `distance_map` (1 x tile/8 x tile/8 x 1)."""
    if fit.statistic != "l1":
        raise ValueError("the exported graph computes absolute differences; fit with statistic='l1'")
    if tile % (2 * MAP_STRIDE):
        raise ValueError(f"tile must be a multiple of {2 * MAP_STRIDE}")
    features = tap_model(weights)
    reference = keras.Input((tile, tile, 3), batch_size=1, name="reference")
    distorted = keras.Input((tile, tile, 3), batch_size=1, name="distorted")
    pair = keras.layers.Concatenate(axis=0, name="pair")([reference, distorted])
    maps = features(pair)
    weights_per_channel = fit.folded_weights()
    tap_distances, tap_maps = [], []
    start = 0
    grid = tile // MAP_STRIDE
    for name, fmap, channels in zip(TAPS, maps, fit.channels, strict=True):
        w = weights_per_channel[start:start + channels].astype(np.float32)
        start += channels
        used = np.flatnonzero(w > 0)
        if not len(used):  # a tap the fit gave no weight adds nothing (and int8 cannot scale all-zero weights)
            continue
        # Only the channels the fit weighs are compared: a 1x1 convolution picks them out, each scaled by its
        # weight (|w (a - b)| = w |a - b| for w >= 0), so the pair difference runs on a few channels, not all.
        pick = np.zeros((1, 1, channels, len(used)), np.float32)
        pick[0, 0, used, np.arange(len(used))] = w[used]
        select = keras.layers.Conv2D(len(used), 1, use_bias=False, name=f"{name}_weighted")
        weighted = select(fmap)
        select.set_weights([pick])
        diff = PairDifference(name=f"{name}_diff")(weighted)
        total = keras.layers.Conv2D(1, 1, use_bias=False, name=f"{name}_map")
        local = total(diff)
        total.set_weights([np.ones((1, 1, len(used), 1), np.float32)])
        tap_distances.append(keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_mean")(local))
        side = int(local.shape[1])
        if side > grid:
            local = keras.layers.AveragePooling2D(side // grid, name=f"{name}_pool")(local)
        elif side < grid:
            local = keras.layers.UpSampling2D(grid // side, name=f"{name}_repeat")(local)
        tap_maps.append(local)
    distance = keras.layers.Reshape((1,), name="distance")(keras.layers.Add(name="tap_sum")(tap_distances))
    distance_map = keras.layers.Add(name="distance_map")(tap_maps)
    return keras.Model([reference, distorted], [distance, distance_map], name="iqlite_distance")
