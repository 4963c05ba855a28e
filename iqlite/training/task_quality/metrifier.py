"""The metrifier: the photo model's backbone with two heads, how well the task will do and what is to blame.

- Backbone: MobileNetV2 alpha 0.35 cut before `Conv_1` (the int8 file fits in 450 KB), read at several depths
  with mean and standard-deviation pooling, as the photo model does (`iqlite.training.regressor.model`).
- `accuracy`: sigmoid of a linear head on the standardised pooled features: the predicted task accuracy
  (for OCR, 1 - character error rate), bounded to [0, 1] by construction.
- `distortion`: softmax over `degradations.FAMILIES` ("clean", "blur", ..., "mix") from a second linear head on
  the same features: which degradation the photo suffers from, so an app can say "hold still" or "more light".
- Pixel scaling is inside the model (input is 0-255 RGB), so the app feeds plain uint8 pixels.
"""

from __future__ import annotations

from iqlite.training.regressor.keras_setup import keras
from iqlite.training.regressor.model import GlobalStdPooling2D, build_backbone
from iqlite.training.regressor.model_spec import ModelSpec
from iqlite.training.task_quality.config import MetrifierConfig
from iqlite.training.task_quality.degradations import FAMILIES

__all__ = ["ACCURACY", "DISTORTION", "FEATURE_NORM", "build_metrifier", "feature_model", "load_metrifier",
           "set_trainable_from"]

ACCURACY = "accuracy"
DISTORTION = "distortion"
ACCURACY_LOGIT = "accuracy_logit"
DISTORTION_LOGITS = "distortion_logits"
FEATURE_NORM = "feature_norm"
BACKBONE = "backbone"


def backbone_spec(config: MetrifierConfig) -> ModelSpec:
    return ModelSpec(alpha=config.alpha, cut_layer=config.cut_layer, taps=config.taps, dropout=config.dropout)


def build_metrifier(config: MetrifierConfig, image_size: int | None = None) -> keras.Model:
    """Image (0-255 RGB) in; `accuracy` (N, 1) in [0, 1] and `distortion` (N, len(FAMILIES)) out."""
    shape = (image_size, image_size, 3) if image_size else (None, None, 3)
    image = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_minus1_1")(image)
    features = build_backbone(backbone_spec(config), config.weights)(x, training=False)
    features = features if isinstance(features, list) else [features]
    pooled = []
    for i, fmap in enumerate(features):
        pooled.append(keras.layers.GlobalAveragePooling2D(name=f"mean_pool_{i}")(fmap))
        pooled.append(GlobalStdPooling2D(name=f"std_pool_{i}")(fmap))
    h = keras.layers.Concatenate(name="pooled_features")(pooled)
    h = keras.layers.Normalization(axis=-1, name=FEATURE_NORM)(h)  # fixed; set from training features
    h = keras.layers.Dropout(config.dropout, name="dropout")(h)
    l2 = keras.regularizers.l2(config.head_l2) if config.head_l2 else None
    z = keras.layers.Dense(1, name=ACCURACY_LOGIT, kernel_regularizer=l2)(h)
    accuracy = keras.layers.Activation("sigmoid", name=ACCURACY)(z)
    logits = keras.layers.Dense(len(FAMILIES), name=DISTORTION_LOGITS, kernel_regularizer=l2)(h)
    distortion = keras.layers.Softmax(name=DISTORTION)(logits)
    return keras.Model(image, {ACCURACY: accuracy, DISTORTION: distortion}, name="iqlite_metrifier")


def feature_model(model: keras.Model) -> keras.Model:
    """Image -> the concatenated pooled features (shares the model's weights)."""
    return keras.Model(model.input, model.get_layer("pooled_features").output)


def head_model(model: keras.Model) -> keras.Model:
    """Standardised-feature input -> both outputs, sharing the model's head layers (phase 1 trains this)."""
    width = int(model.get_layer("pooled_features").output.shape[-1])
    inp = keras.Input((width,), name="features")
    h = model.get_layer("dropout")(inp)
    accuracy = model.get_layer(ACCURACY)(model.get_layer(ACCURACY_LOGIT)(h))
    distortion = model.get_layer(DISTORTION)(model.get_layer(DISTORTION_LOGITS)(h))
    return keras.Model(inp, {ACCURACY: accuracy, DISTORTION: distortion})


def set_trainable_from(model: keras.Model, from_layer: str | None) -> int:
    """Backbone layers from `from_layer` on train (BatchNormalization stays frozen); None freezes the backbone.

    BN keeps ImageNet's statistics: the backbone is called with training=False, and a few thousand rendered
    documents would estimate them worse. Returns the number of backbone layers with weights that train.
    """
    backbone = model.get_layer(BACKBONE)
    if from_layer is None:
        backbone.trainable = False
        return 0
    names = [layer.name for layer in backbone.layers]
    if from_layer not in names:
        raise ValueError(f"fine_tune_from {from_layer!r} is not a layer of the cut backbone")
    backbone.trainable = True
    start = names.index(from_layer)
    count = 0
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        count += int(layer.trainable and bool(layer.weights))
    return count


def load_metrifier(path) -> keras.Model:
    return keras.models.load_model(path, custom_objects={"GlobalStdPooling2D": GlobalStdPooling2D}, compile=False)
