"""Which depths of the backbone the distance compares, and the per-channel differences at each.

The construction follows LPIPS (Zhang et al. 2018): compare the feature maps of the reference and the
distorted photo at several depths of a trained network, channel by channel, and let learned non-negative
weights say how much each channel's difference matters. Our network is the photo model's backbone,
MobileNetV2 alpha 0.35 with ImageNet weights, read at the post-activation ("expand_relu") layers that
segmentation decoders use as its multi-scale features, from stride 2 to stride 16, plus the pixels themselves
(depth 0, which gives the distance PSNR's sensitivity to plain colour and brightness changes):

| tap | stride | channels |
|---|---|---|
| pixels | 1 | 3 |
| Conv1_relu | 2 | 16 |
| block_1_expand_relu | 2 | 48 |
| block_3_expand_relu | 4 | 48 |
| block_6_expand_relu | 8 | 96 |
| block_10_expand_relu | 16 | 144 |
| block_13_expand_relu | 16 | 192 |

Everything after `block_13_expand_relu` is cut off (the model has ~99 K weights).

For each channel we keep two statistics of the difference over all positions of all tiles: the mean absolute
difference and the mean squared difference. Both are linear in the tiles, so a photo's statistics are the
mean of its tiles', and any weighting of them fitted later is exactly a weighted spatial mean of a per-pixel
distance map, as LPIPS has it. Why both: the squared difference is LPIPS's choice, the absolute one survives
int8 arithmetic (a squared small difference rounds to zero in 8 bits); the fit chooses, see docs/perceptual.md.
"""

from __future__ import annotations

import numpy as np

from iqlite.perceptual.tiles import tiles
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import full_mobilenet

__all__ = ["ALPHA", "PIXELS", "TAPS", "PairStatistics", "channel_counts", "tap_model"]

ALPHA = 0.35
PIXELS = "pixels"
TAPS: tuple[str, ...] = (PIXELS, "Conv1_relu", "block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                         "block_10_expand_relu", "block_13_expand_relu")


def tap_model(weights: str | None = "imagenet", taps: tuple[str, ...] = TAPS) -> keras.Model:
    """0-255 RGB (any size) in; the feature maps of `taps` out (pixels scaled to [-1, 1] as the backbone sees them)."""
    full = full_mobilenet(ALPHA, weights)
    inputs = keras.Input((None, None, 3), name="image")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="pixels")(inputs)
    deep = [t for t in taps if t != PIXELS]
    cut = keras.Model(full.input, [full.get_layer(t).output for t in deep], name="backbone")
    outputs = dict(zip(deep, cut(scaled), strict=True)) if deep else {}
    outputs[PIXELS] = scaled
    return keras.Model(inputs, [outputs[t] for t in taps], name="taps")


def channel_counts(model: keras.Model) -> list[int]:
    """Channels of each tap, in order."""
    return [int(shape[-1]) for shape in (o.shape for o in model.outputs)]


class PairStatistics:
    """Per-channel mean |difference| and mean squared difference between a reference and its versions.

    The reference's tiles go through the backbone once (`set_reference`), each version's once. The result is
    one row of `2 * sum(channels)` numbers: all absolute-difference means (taps in order), then all squared.
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.channels = channel_counts(model)
        self._reference: list[tf.Tensor] | None = None
        self._shape: tuple[int, ...] | None = None

    def set_reference(self, rgb: np.ndarray) -> None:
        self._shape = rgb.shape
        self._reference = self._features(rgb)

    def _features(self, rgb: np.ndarray) -> list[tf.Tensor]:
        out = self.model(tf.constant(tiles(rgb), tf.float32), training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def __call__(self, distorted: np.ndarray) -> np.ndarray:
        if self._reference is None or distorted.shape != self._shape:
            raise ValueError("set_reference first, with a photo of the same size")
        return _statistics(self._reference, self._features(distorted)).numpy()


@tf.function(reduce_retracing=True)
def _statistics(reference: list[tf.Tensor], distorted: list[tf.Tensor]) -> tf.Tensor:
    l1, l2 = [], []
    for ref, dist in zip(reference, distorted, strict=True):
        diff = ref - dist
        l1.append(tf.reduce_mean(tf.abs(diff), axis=[0, 1, 2]))
        l2.append(tf.reduce_mean(tf.square(diff), axis=[0, 1, 2]))
    return tf.concat(l1 + l2, axis=0)
