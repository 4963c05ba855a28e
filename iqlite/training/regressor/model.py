"""The quality regressor: a cut MobileNetV2 backbone, multi-level pooled features, a bounded 0–5 head.

Why this shape:
- The backbone is cut (by default before the 1280-channel `Conv_1`) so the int8 model fits in 450 KB.
- Quality lives at several depths: blur and noise show in early layers, content and composition late.
  Pooling mean and standard deviation of a few layers at different depths ("multi-level spatially pooled"
  features) beats a single global average of the last layer clearly on real photos (LIVE-C linear probe:
  0.75 vs 0.71 SRCC at 384 px). The taps are thin bottleneck outputs, so the int8 file stays in budget.
- The model is fully convolutional with global pooling, so it trains on random crops of any size and scores
  whole images at the resolution chosen at export time.
- The head is linear on standardised features (a fixed `Normalization` layer, then one `Dense`): phase 1
  fits it in closed form (ridge regression, penalty chosen on validation SRCC), which beat a small MLP head
  trained by gradient descent on LIVE-C (full-recipe test SRCC 0.734 -> 0.749 and 0.690 -> 0.748 on
  folds 0 and 1), and it adds only ~500 weights.
- Pixel scaling lives inside the model (input is 0–255 RGB), so the app feeds plain uint8 pixels.
- The output is 5 * sigmoid(a * z + b): it can never leave the star range, and `a`, `b` (the `calibration`
  layer, not trained by gradient) are fitted on validation data after training to undo the squeezed spread
  that light models are known for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iqlite.training.core.errors import InputError
from iqlite.training.regressor.backbone_weights import WeightsNotFoundError, missing_imagenet_message, resolve_weights
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model_spec import ModelSpec

SCORE_MAX = 5.0
BACKBONE_NAME = "backbone"
CALIBRATION_LAYER = "calibration"
LOGIT_LAYER = "quality_logit"
FEATURE_NORM_LAYER = "feature_norm"

@keras.utils.register_keras_serializable(package="iqlite")
class GlobalStdPooling2D(keras.layers.Layer):
    """Per-channel standard deviation over height and width: how much a feature varies across the photo.

    Written as sqrt(E[x^2] - E[x]^2) with plain ops (mean, square, sqrt) so every TFLite runtime has them.
    """

    def call(self, x):
        mean = tf.reduce_mean(x, axis=[1, 2])
        mean_sq = tf.reduce_mean(tf.square(x), axis=[1, 2])
        return tf.sqrt(tf.nn.relu(mean_sq - tf.square(mean)) + 1e-6)


def full_mobilenet(alpha: float, weights: str | None) -> keras.Model:
    """Keras MobileNetV2 without top, any input size, with the one clear message if weights are missing."""
    resolved = resolve_weights(weights, alpha)
    kwargs = dict(input_shape=(None, None, 3), alpha=alpha, include_top=False)
    if resolved in (None, "imagenet"):
        try:
            return keras.applications.MobileNetV2(weights=resolved, **kwargs)
        except Exception as err:  # offline download failure surfaces as many exception types
            if resolved == "imagenet":
                raise WeightsNotFoundError(missing_imagenet_message(alpha, err)) from err
            raise
    model = keras.applications.MobileNetV2(weights=None, **kwargs)
    try:
        model.load_weights(resolved)
    except Exception as err:
        raise WeightsNotFoundError(f"--weights {resolved}: cannot load into MobileNetV2 alpha {alpha}: {err}") from err
    return model


def build_backbone(spec: ModelSpec, weights: str | None) -> keras.Model:
    """MobileNetV2 cut at `spec.cut_layer`, returning the feature maps of every tap (cut layer last)."""
    full = full_mobilenet(spec.alpha, weights)
    names = [layer.name for layer in full.layers]
    for name in (*spec.taps, spec.cut_layer):
        if name not in names:
            raise InputError(f"layer {name!r} is not in MobileNetV2; choose from e.g. {', '.join(names[-12:])}")
    cut_index = names.index(spec.cut_layer)
    late = [t for t in spec.taps if names.index(t) > cut_index]
    if late:
        raise InputError(f"taps {late} come after the cut layer {spec.cut_layer!r}")
    outputs = [full.get_layer(t).output for t in spec.taps if t != spec.cut_layer]
    outputs.append(full.get_layer(spec.cut_layer).output)
    return keras.Model(full.input, outputs, name=BACKBONE_NAME)


def build_model(spec: ModelSpec, weights: str | None = "imagenet", image_size: int | None = None) -> keras.Model:
    """The full regressor. `image_size=None` accepts any size (training on crops); export fixes it."""
    shape = (image_size, image_size, 3) if image_size else (None, None, 3)
    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_minus1_1")(image)
    backbone = build_backbone(spec, weights)
    features = backbone(x, training=False)
    pooled = []
    for i, fmap in enumerate(features):
        pooled.append(keras.layers.GlobalAveragePooling2D(name=f"mean_pool_{i}")(fmap))
        if spec.std_pooling:
            pooled.append(GlobalStdPooling2D(name=f"std_pool_{i}")(fmap))
    h = keras.layers.Concatenate(name="pooled_features")(pooled)
    h = keras.layers.Normalization(axis=-1, name=FEATURE_NORM_LAYER)(h)  # fixed; set from training features
    h = keras.layers.Dropout(spec.dropout, name="dropout")(h)
    z = keras.layers.Dense(1, name=LOGIT_LAYER)(h)
    calibration = keras.layers.Dense(1, name=CALIBRATION_LAYER, kernel_initializer="ones", bias_initializer="zeros")
    calibration.trainable = False
    z = calibration(z)
    s = keras.layers.Activation("sigmoid", name="sigmoid")(z)
    score = keras.layers.Rescaling(SCORE_MAX, name="score")(s)
    return keras.Model(image, score, name="iqlite")


def pooled_feature_model(model: keras.Model) -> keras.Model:
    """Image -> the concatenated pooled features the head reads (shares the model's weights)."""
    return keras.Model(model.input, model.get_layer("pooled_features").output)


def backbone_of(model: keras.Model) -> keras.Model:
    return model.get_layer(BACKBONE_NAME)


def freeze_backbone(model: keras.Model) -> None:
    """Phase 1: the backbone is fixed while the head is fitted."""
    backbone_of(model).trainable = False
    model.get_layer(CALIBRATION_LAYER).trainable = False


def unfreeze_top(model: keras.Model, from_layer: str, bn_affine: bool = False) -> int:
    """Phase 2: layers from `from_layer` to the cut become trainable, BatchNormalization stays frozen.

    BN statistics from ImageNet are better estimates than a few hundred photos would give, and small batches
    would make them noisy; the backbone is also called with training=False, so BN always uses its moving
    statistics. With `bn_affine` the BN layers' scale and shift train too (the statistics still do not).
    Returns the number of layers unfrozen.
    """
    backbone = backbone_of(model)
    names = [layer.name for layer in backbone.layers]
    if from_layer not in names:
        raise InputError(f"--fine-tune-from {from_layer!r} is not a backbone layer (e.g. block_13_expand)")
    backbone.trainable = True
    start = names.index(from_layer)
    count = 0
    for i, layer in enumerate(backbone.layers):
        train = i >= start and (bn_affine or not isinstance(layer, keras.layers.BatchNormalization))
        layer.trainable = train
        count += int(train and bool(layer.weights))
    model.get_layer(CALIBRATION_LAYER).trainable = False
    return count


def set_calibration(model: keras.Model, slope: float, offset: float) -> None:
    """Write the fitted spread calibration into the model (output = 5 * sigmoid(slope * z + offset))."""
    layer = model.get_layer(CALIBRATION_LAYER)
    layer.set_weights([tf.constant([[slope]], tf.float32).numpy(), tf.constant([offset], tf.float32).numpy()])


def set_linear_head(model: keras.Model, mean: np.ndarray, variance: np.ndarray, weights: np.ndarray,
                    bias: float) -> None:
    """Install a linear head fitted outside Keras: z = weights . (x - mean) / sqrt(variance) + bias."""
    norm = model.get_layer(FEATURE_NORM_LAYER)
    count = norm.get_weights()[2]
    norm.set_weights([mean.astype(np.float32), variance.astype(np.float32), count])
    model.get_layer(LOGIT_LAYER).set_weights([weights.reshape(-1, 1).astype(np.float32), np.array([bias], np.float32)])


def restore_checkpoint(checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restore a `tf.train.Checkpoint` holding the model, and refresh what the restore leaves stale.

    Why not just `checkpoint.restore`: tf-keras's `Normalization` computes its working mean and variance
    tensors from its weights when they are set through Keras (`set_weights`, loading a .keras file), but a
    checkpoint restore only assigns the variables. A model restored in a fresh process would then standardise
    with the initial mean 0 / variance 1, a different function from the one trained (on LIVE-C: validation
    SRCC 0.844 instead of 0.862, and a resumed fine-tune continuing from the wrong head).
    """
    checkpoint.restore(path).expect_partial()
    model = checkpoint.model
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()


def remove_checkpoint(prefix: str) -> None:
    """Delete the files of a superseded checkpoint (its .index and .data-* shards)."""
    if prefix:
        for path in Path(prefix).parent.glob(Path(prefix).name + ".*"):
            path.unlink(missing_ok=True)


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(_all_layers(layer))
    return layers


def logit_model(model: keras.Model) -> keras.Model:
    """The same network up to the uncalibrated logit z (used to fit the calibration)."""
    return keras.Model(model.input, model.get_layer(LOGIT_LAYER).output)


def load_model(path) -> keras.Model:
    """Load a saved iqlite Keras model (custom layers registered by importing this module)."""
    return keras.models.load_model(path, custom_objects={"GlobalStdPooling2D": GlobalStdPooling2D}, compile=False)
