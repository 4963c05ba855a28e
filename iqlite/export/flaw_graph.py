"""The flaw statistics as a Keras graph: the one definition the shipped .tflite computes beside its score.

A flaw reason is a statistic of the photo compared with a calibrated threshold. Computing the statistics
inside the model file means Python, the Android app and the web page read the same numbers from the same
file (the golden tests pin them), and a reason costs an app no code of its own: it reads one more output
tensor and compares each value with the threshold the model's metadata gives.

Every statistic is built from convolutions, channel maxima and means, and each is shaped to survive full
int8 quantization (each tensor in int8 has one scale for all its values, so a statistic whose information
sits in small values next to large ones loses it):

- Detail and noise filters run on the raw uint8 input, whose values are exact integers, with weights that
  are exact in int8 (per-channel symmetric quantization maps the largest weight to 127; the filters use
  integer taps of at most 127 that sum to zero, and the three colour channels get the same taps), and
  their responses are clipped by a ReLU6 fused into the convolution. So the integer accumulator is exact
  and the output scale only has to span the clipped range, which keeps steps of a tenth of a grey level.
- Ratios of image-wide values are taken after the means, on scalars.
- Each output is a number on [0, 1] in its own units, so one uint8 output tensor holds all of them at one
  scale without losing resolution.

The statistics, in `FLAW_STATISTICS` order (the output's columns):

- underexposure and overexposure: the probabilities of two tiny networks (`TONE_FEATURES` -> 12 ReLU units
  -> sigmoid) on tonal statistics of the photo's 4x4 block means: brightness, the shares of clipped luma,
  of blocks with a clipped colour channel and of clipped blocks inside wholly clipped neighbourhoods, the
  shares of dark, very dark, bright and very bright blocks, and the mean saturation. Mean brightness
  alone cannot tell a night scene from a darkened photo, nor a bright beach from a blown-out one; how the
  tones are spread, and whether the highlights are clipped flat, can. Their weights are fitted by
  `benchmarks/flaw_model_calibration.py` and passed in with the thresholds.
- detail: along the blurrier image axis, the mean luma step (summed over the channels, each step clipped
  at `STEP_CLIP` grey levels) over the mean absolute deviation of luma, clipped to [0, 1].
- relative_contrast: mean absolute deviation of luma over the distance from its mean to the nearer of
  black and white, clipped to [0, 1].
- noise_share: the response to Immerkaer's noise mask over the response to a Laplacian (both clipped),
  times a gate that is 0 where the noise is below `NOISE_VISIBLE` grey levels (a heavily blurred photo
  keeps only its rounding noise, and would otherwise look "all noise"), halved so it fits [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from iqlite.training.regressor.keras_setup import keras, tf

__all__ = ["EXPOSURE_NETWORKS", "FLAW_OUTPUT", "FLAW_STATISTICS", "TONE_FEATURES", "FlawStatistics",
           "flaw_statistics_model"]

FLAW_OUTPUT = "flaw_statistics"
FLAW_STATISTICS: tuple[str, ...] = ("underexposure", "overexposure", "detail", "relative_contrast", "noise")
TONE_FEATURES: tuple[str, ...] = ("brightness", "clipped", "channel_clipped", "clipped_area", "dark",
                                  "saturation", "deep_dark", "bright", "very_bright")

EXPOSURE_NETWORKS: tuple[str, ...] = ("underexposure", "overexposure")
LUMA = (0.299, 0.587, 0.114)
TONE_POOL = 4  # tone (brightness, clipping, contrast) is measured on 4x4 block means
DETAIL_STRIDE = 4  # detail and noise filters run at full resolution, evaluated at every 4th pixel of every 4th row
CLIP_LEVEL = 249.0  # luma (or a channel) above this counts as clipped; 250..255 are all "white"
# Soft tone bands (grey levels): a pixel counts fully beyond the edge's far side, partly within its softness.
DARK_LEVEL, DARK_SOFTNESS = 64.0, 16.0  # dark: luma below 48 fully, 48..64 partly
DEEP_DARK_LEVEL, DEEP_DARK_SOFTNESS = 32.0, 16.0
BRIGHT_LEVEL, VERY_BRIGHT_LEVEL, BRIGHT_SOFTNESS = 160.0, 200.0, 32.0  # bright: above 192 fully, 160..192 partly
DETAIL_CLIP = 48.0  # grey levels: larger first and second differences count as this much
DEVIATION_CLIP = 64.0  # grey levels: luma deviations from the mean beyond this count as this much
NOISE_CLIP = 32.0  # grey levels of the noise mask's response
NOISE_BLOCK = 32  # pixels: the noise floor is the quietest block's noise estimate
NOISE_SCALE = 8.0  # grey levels of noise at which the noise statistic reads 1
_SATURATION_FLOOR = 8.0  # (max - min) / (max + floor): dark pixels are not "saturated" by rounding
_DETAIL_FLOOR = 0.01  # added to the mean first difference (in ReLU6 units, 1/1000 of DETAIL_CLIP): a flat photo reads 0

# Integer taps (exact in int8, where the largest weight of a filter becomes 127) that sum to zero, one tap
# nudged where rounding broke the sum, so a flat patch gives exactly 0: the second difference [1 -2 1]
# and Immerkaer's noise mask [1 -2 1; -2 4 -2; 1 -2 1], scaled so the centre is 127.
_SECOND_DIFFERENCE_TAPS = np.array([64.0, -127.0, 63.0])
_NOISE_TAPS = np.array([[32, -64, 32], [-64, 127, -64], [32, -64, 33]], np.float64)
# Immerkaer (1996): sigma = sqrt(pi / 2) / 6 * mean |mask * luma|.
_IMMERKAER = math.sqrt(math.pi / 2.0) / 6.0


def _relu1(x):
    return tf.clip_by_value(x, 0.0, 1.0)


def _image_mean(x):
    return tf.reduce_mean(x, axis=[1, 2, 3])


class FlawStatistics(keras.layers.Layer):
    """(batch, S, S, 3) raw pixels 0–255 -> (batch, len(FLAW_STATISTICS)) statistics on [0, 1]."""

    def __init__(self, exposure: Mapping[str, object], include_tonal: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.exposure = {name: _checked_network(name, exposure.get(name)) for name in EXPOSURE_NETWORKS}
        self.include_tonal = bool(include_tonal)  # append the exposure networks' inputs (for their fit)
        self._luma = tf.constant(np.array(LUMA, np.float32).reshape(1, 1, 3, 1))
        self._filters = tf.constant(np.concatenate([*_difference_kernels(), _noise_kernel()], axis=-1))
        self._networks = {name: (tf.constant(np.asarray(net["hidden_weights"], np.float32)),
                                 tf.constant(np.asarray(net["hidden_bias"], np.float32)),
                                 tf.constant(np.asarray(net["output_weights"], np.float32).reshape(-1, 1)),
                                 tf.constant(np.float32(net["output_bias"])))
                          for name, net in self.exposure.items()}

    def get_config(self) -> dict:
        return {**super().get_config(), "exposure": self.exposure, "include_tonal": self.include_tonal}

    def _probability(self, name: str, tonal):
        hidden_w, hidden_b, output_w, output_b = self._networks[name]
        hidden = tf.nn.relu(tf.matmul(tonal, hidden_w) + hidden_b)
        return tf.sigmoid(tf.matmul(hidden, output_w)[:, 0] + output_b)

    def call(self, x):
        x = tf.cast(x, tf.float32)
        # Tone needs no fine detail: it is measured on 4x4 block means (16x fewer pixels to process).
        small = tf.nn.avg_pool2d(x, TONE_POOL, TONE_POOL, "VALID")
        luma = tf.nn.conv2d(small, self._luma, 1, "VALID")
        mean_luma = tf.reduce_mean(luma, axis=[1, 2], keepdims=True)
        brightness = mean_luma[:, 0, 0, 0] / 255.0

        top = tf.reduce_max(small, axis=-1, keepdims=True)
        bottom = tf.reduce_min(small, axis=-1, keepdims=True)
        channel_clipped = _relu1(top - CLIP_LEVEL)
        # A 3x3 min filter (1 - max pool of 1 - x): clipped blocks whose whole neighbourhood is clipped.
        clipped_area = 1.0 - tf.nn.max_pool2d(1.0 - channel_clipped, 3, 1, "SAME")
        tonal = tf.stack([
            brightness,
            _image_mean(_relu1(luma - CLIP_LEVEL)),
            _image_mean(channel_clipped),
            _image_mean(clipped_area),
            _image_mean(_relu1((DARK_LEVEL - luma) / DARK_SOFTNESS)),
            _image_mean((top - bottom) / (top + _SATURATION_FLOOR)),
            _image_mean(_relu1((DEEP_DARK_LEVEL - luma) / DEEP_DARK_SOFTNESS)),
            _image_mean(_relu1((luma - BRIGHT_LEVEL) / BRIGHT_SOFTNESS)),
            _image_mean(_relu1((luma - VERY_BRIGHT_LEVEL) / BRIGHT_SOFTNESS)),
        ], axis=1)
        underexposure = self._probability("underexposure", tonal)
        overexposure = self._probability("overexposure", tonal)

        deviation = tf.clip_by_value(luma - mean_luma, -DEVIATION_CLIP, DEVIATION_CLIP)
        spread = tf.sqrt(tf.reduce_mean(tf.square(deviation), axis=[1, 2, 3]))
        headroom = tf.maximum(tf.minimum(brightness, 1.0 - brightness) * 255.0, 5.0)
        relative_contrast = tf.minimum(spread / headroom, 1.0)

        # One convolution (its cost hardly grows with its outputs) gives, each sign separately and clipped
        # by ReLU6: the first and second differences along x and y (clipped at DETAIL_CLIP) and Immerkaer's
        # noise mask (clipped at NOISE_CLIP). They are full-resolution differences, evaluated at a grid of pixels
        # (stride 4: the same statistics, sampled, at a 16th of the cost). Each pair is averaged on its own:
        # one mean over all of them would get the scale of the largest in int8, which rounded a blurred
        # photo's second differences to 0.
        responses = tf.nn.relu6(tf.nn.conv2d(x, self._filters, DETAIL_STRIDE, "VALID"))
        first_x, first_y, second_x, second_y, mask = tf.split(responses, 5, axis=-1)
        first_x, first_y, second_x, second_y = (tf.reduce_mean(r, axis=[1, 2, 3])
                                                for r in (first_x, first_y, second_x, second_y))
        detail = tf.minimum(second_x / (first_x + _DETAIL_FLOOR), second_y / (first_y + _DETAIL_FLOOR))
        detail = tf.minimum(detail * 0.5, 1.0)

        block = NOISE_BLOCK // DETAIL_STRIDE
        blocks = tf.nn.avg_pool2d(mask, block, block, "VALID")
        quietest = tf.reduce_min(blocks[..., 0] + blocks[..., 1], axis=[1, 2]) * (NOISE_CLIP / 6.0)
        noise = tf.minimum(quietest * (_IMMERKAER / NOISE_SCALE), 1.0)

        statistics = tf.stack([underexposure, overexposure, detail, relative_contrast, noise], axis=1)
        return tf.concat([statistics, tonal], axis=1) if self.include_tonal else statistics


def _per_channel(taps: np.ndarray, clip: float) -> np.ndarray:
    """Taps applied alike to R, G and B (so they act on the channel mean), scaled so ReLU6 clips at `clip`."""
    return np.repeat(taps[:, :, None], 3, axis=2) * (6.0 / clip) / 3.0


def _difference_kernels() -> list[np.ndarray]:
    """Four (3, 3, 3, 2) filters, each sign separately: first differences along x and y, then second ones."""
    first, second = np.zeros((3, 3)), np.zeros((3, 3))
    first[1, 1:] = (-1.0, 1.0)
    second[1, :] = _SECOND_DIFFERENCE_TAPS / 63.5  # [1 -2 1] to within a tap
    kernels = []
    for tap in (first, first.T, second, second.T):
        k = np.stack([_per_channel(tap, DETAIL_CLIP), _per_channel(-tap, DETAIL_CLIP)], axis=-1)
        kernels.append(k.astype(np.float32))
    return kernels


def _noise_kernel() -> np.ndarray:
    """(3, 3, 3, 2) filters: Immerkaer's mask (centre 4), each sign separately, clipped at NOISE_CLIP."""
    mask = _NOISE_TAPS * (4.0 / 127.0)
    k = np.stack([_per_channel(mask, NOISE_CLIP), _per_channel(-mask, NOISE_CLIP)], axis=-1)
    return k.astype(np.float32)


def _checked_network(name: str, params: Mapping[str, object] | None) -> dict:
    """One exposure network's weights as plain lists, checked against `TONE_FEATURES`."""
    try:
        hidden_w = np.asarray(params["hidden_weights"], np.float64)
        hidden_b = np.asarray(params["hidden_bias"], np.float64).reshape(-1)
        output_w = np.asarray(params["output_weights"], np.float64).reshape(-1)
        output_b = float(params["output_bias"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"the {name} network needs hidden_weights, hidden_bias, output_weights and output_bias "
                         f"({err!r})") from None
    if hidden_w.ndim != 2 or hidden_w.shape[0] != len(TONE_FEATURES) or hidden_b.size != hidden_w.shape[1] \
            or output_w.size != hidden_w.shape[1]:
        raise ValueError(f"{name} weights of shapes {hidden_w.shape}, {hidden_b.shape}, {output_w.shape} do not "
                         f"fit {len(TONE_FEATURES)} features ({', '.join(TONE_FEATURES)})")
    return {"hidden_weights": hidden_w.tolist(), "hidden_bias": hidden_b.tolist(),
            "output_weights": output_w.tolist(), "output_bias": output_b}


def flaw_statistics_model(image_size: int, exposure: Mapping[str, object], batch_size: int | None = 1,
                          include_tonal: bool = False) -> keras.Model:
    """A model of the flaw statistics alone (for calibration and tests), from raw 0–255 pixels."""
    inputs = keras.Input((image_size, image_size, 3), batch_size=batch_size, name="image")
    outputs = FlawStatistics(exposure, include_tonal=include_tonal, name=FLAW_OUTPUT)(inputs)
    return keras.Model(inputs, outputs, name="iqlite_flaws")
