"""Quantization-aware training (QAT): an export option for when post-training quantization costs accuracy.

Post-training quantization (PTQ, `iqlite.export.tflite_export`) rounds a finished float model; QAT fine-tunes the
model for a few epochs with int8 rounding simulated in the forward pass ("fake quant"), so the weights learn
to live with it, and then converts it. `qat_int8` does that for a training run and reports the float, PTQ
and QAT models side by side on the run's validation photos, because QAT costs minutes of training and is
only worth shipping where it measurably beats PTQ.

How, with tensorflow-model-optimization 0.8.1 on tf-keras (and why):

- tfmot refuses nested models (tensorflow/model-optimization#957) and layers it does not know, even
  `Rescaling` (#647), and it clones every layer from its config, which the export head's constant layers
  (`iqlite.export.export_graph`) cannot do. So the export graph (`fixed_size_model`: the function PTQ converts,
  with its int8-friendly head) is inlined into one flat graph (`flatten_model`) and cut in two: the trunk,
  every layer from the input on that re-creates from its config (input scaling and MobileNetV2), and the
  head, everything after. tfmot sees an independent copy of the trunk only; the head stays a float model
  of the trunk's outputs, shared by the fake-quant model trained and the float model converted.
- In the trunk, only layers of the kinds tfmot's default 8-bit scheme handles (Conv2D, DepthwiseConv2D,
  BatchNormalization after a conv, ReLU, Add, ZeroPadding2D) with 4-D outputs are annotated; the input
  `Rescaling` stays float (uint8 pixels map onto [-1, 1] without loss). The head (~500 weights) is float in
  training and quantized by the converter's calibration, as in PTQ: a NoOp `QuantizeConfig` would mean the
  same, and hand-placed fake-quant points in the std pooling would not sit where the converter rounds.
- tfmot starts every activation range at [-6, 6] and moves it by an exponential average with a hard-coded
  decay of 0.999: thousands of steps to find the real ranges, where a QAT fine-tune here is a few hundred.
  So the ranges are set before training to the float activations' min/max on the calibration photos (what
  PTQ calibrates with), and the weight ranges by one training-mode pass.
- The target is the float model's own score for the exact (possibly mirrored) photo: distillation. The float
  model was already trained and its epoch chosen on the human scores; QAT's job is to make the int8 model
  score like it, and fitting the human scores again would mix a second fine-tuning into the comparison
  (and need the rating table, whose columns the run does not record). The epoch kept is the one whose
  validation scores track the float model's best (SRCC between them); epoch 0 (ranges set, weights
  untouched, i.e. PTQ) competes. SRCC against the human scores is reported per epoch but does not choose.
  BatchNormalization stays frozen and the learning rate low, as in the training recipe's fine-tuning.
- The fine-tuned trunk weights are copied back into the float copy of the graph, which `quantize_int8`
  converts exactly as a PTQ export (same converter settings and calibration photos, output pinned to 0–5,
  raw-pixel input and compaction checked): same ops, size and app contract, with weights trained for that
  rounding: weights are rounded per output channel in training as in TFLite (depthwise kernels included, see
  `_DepthwiseKernelQuantizer`), which commutes with the converter folding BatchNormalization into the
  conv, and the activation ranges trained with are the calibration ranges. Converting the fake-quant graph
  itself is wrong with TF 2.21: in a partly fake-quantized graph the converter quantizes a head Dense's bias
  with its input's calibrated scale but gives that input the trunk's fake-quant scale, so the bias comes out
  ~9x too large and the logit saturates (measured: every photo at the top of the logit's int8 range).
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iqlite.export import tflite_export as te
from iqlite.export.parity import compare_scores, tflite_scores, validation_photos
from iqlite.training.core import atomic, metrics
from iqlite.training.data.dataset import ImageSet
from iqlite.training.regressor.evaluate import predict_scores
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import CALIBRATION_LAYER
from iqlite.training.regressor.train import CropFlipBatches

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # tfmot 0.8.1 compares TF versions with distutils
    import tensorflow_model_optimization as tfmot

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_LEARNING_RATE",
    "QATGraphs",
    "QATResult",
    "compare_int8",
    "flatten_model",
    "format_comparison",
    "qat_int8",
    "quantization_aware_model",
    "train_qat",
]

DEFAULT_EPOCHS = 3
DEFAULT_LEARNING_RATE = 1e-5
RANGE_BATCH = 8

#: Layer kinds tfmot's default 8-bit scheme quantizes as the converter does (BatchNormalization only after a
#: conv, which is the only place the MobileNetV2 trunk has it).
TRUNK_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.BatchNormalization,
                keras.layers.ReLU, keras.layers.Add, keras.layers.ZeroPadding2D)

_QuantizeWrapper = tfmot.quantization.keras.QuantizeWrapperV2


_LastValueQuantizer = tfmot.quantization.keras.quantizers.LastValueQuantizer


class _DepthwiseKernelQuantizer(_LastValueQuantizer):
    """Per-channel rounding of a depthwise kernel, as the TFLite converter does it.

    tfmot's conv weight quantizer takes one range per last axis, which for a depthwise kernel (h, w, C, M)
    is the depth multiplier M = 1: one range for the whole kernel. TFLite keeps one per output channel
    (C * M), and MobileNetV2's depthwise channels differ by orders of magnitude, so training against
    tfmot's default would fight rounding far coarser than the int8 model has (demo model, validation SRCC:
    float 0.706, int8 0.674, fake-quant 0.633 with tfmot's per-tensor depthwise, 0.683 per channel).
    """

    def __init__(self) -> None:
        _LastValueQuantizer.__init__(self, num_bits=8, per_axis=True, symmetric=True, narrow_range=True)

    def build(self, tensor_shape, name, layer):
        h, w, c, m = tensor_shape
        return _LastValueQuantizer.build(self, tf.TensorShape([h, w, 1, c * m]), name, layer)

    def __call__(self, inputs, training, weights, **kwargs):
        # Explicit base calls, not super(): tfmot runs this under autograph, which mis-resolves a bare super().
        h, w, c, m = inputs.shape
        flat = tf.reshape(inputs, [h, w, 1, c * m])
        return tf.reshape(_LastValueQuantizer.__call__(self, flat, training, weights, **kwargs), [h, w, c, m])


class _Registry(tfmot.quantization.keras.default_8bit.Default8BitQuantizeRegistry):
    """tfmot's default 8-bit rules, with depthwise kernels rounded per channel (`_DepthwiseKernelQuantizer`)."""

    def get_quantize_config(self, layer):
        config = super().get_quantize_config(layer)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            config.weight_quantizer = _DepthwiseKernelQuantizer()
        return config


class _Scheme(tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme):
    def get_quantize_registry(self):
        return _Registry()


@dataclass
class QATResult:
    """The float export graph with the chosen fine-tuned weights behind a fixed (1, S, S, 3) input."""

    model: keras.Model
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def flatten_model(model: keras.Model) -> keras.Model:
    """The same function as `model` with every nested functional sub-model inlined into one flat graph.

    Each layer is re-called on new tensors in the order of the model's own nodes (sub-models recursively),
    so the flat model shares the original's layers and weights; nothing is copied by hand.
    """
    inputs = _new_inputs(model.inputs, model.input_names)
    outputs = _replay(model, inputs)
    return keras.Model(_one_or_list(inputs), _one_or_list(outputs), name=f"{model.name}_flat")


def _new_inputs(tensors: list, names: list[str]) -> list:
    return [keras.Input(shape=t.shape[1:], batch_size=t.shape[0], dtype=t.dtype, name=name)
            for t, name in zip(tensors, names, strict=True)]


def _one_or_list(tensors: list):
    return tensors[0] if len(tensors) == 1 else tensors


def _replay(model: keras.Model, inputs: list) -> list:
    """Call `model`'s layers on `inputs` node by node (tf-keras' `_nodes_by_depth`, deepest first), inlining
    nested functional models; returns the new tensors for `model.outputs`."""
    tensors = {id(old): new for old, new in zip(model.inputs, inputs, strict=True)}
    for node in _nodes_in_order(model):
        args, kwargs = _mapped(node, tensors)
        layer = node.outbound_layer
        if isinstance(layer, keras.Model) and layer._is_graph_network:
            outs = _one_or_list(_replay(layer, tf.nest.flatten(args)))
        else:
            outs = layer(*args, **kwargs)
        _record(node, outs, tensors)
    return [tensors[id(t)] for t in model.outputs]


def _nodes_in_order(model: keras.Model) -> list:
    """The model's own layer calls in topological order, input layers left out."""
    return [node for depth in sorted(model._nodes_by_depth, reverse=True) for node in model._nodes_by_depth[depth]
            if not isinstance(node.outbound_layer, keras.layers.InputLayer)]


def _mapped(node, tensors: dict) -> tuple:
    def new(t):
        return tensors.get(id(t), t)

    return tf.nest.map_structure(new, node.call_args), tf.nest.map_structure(new, node.call_kwargs)


def _record(node, outs, tensors: dict) -> None:
    for old, out in zip(tf.nest.flatten(node.outputs), tf.nest.flatten(outs), strict=True):
        tensors[id(old)] = out


def _clone(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    """A fresh, unbuilt copy of `layer` from its config, or None if the layer cannot be re-created that way
    (a custom layer with constructor arguments and no `get_config`, such as the export head's constants)."""
    try:
        return type(layer).from_config(layer.get_config())
    except (NotImplementedError, TypeError, ValueError):
        return None


@dataclass
class _Split:
    """A flat graph cut in two: the trunk tfmot can clone (built-in layers from the input on) and the head."""

    trunk: list  # nodes, in order
    head: list
    boundary: list  # trunk tensors the head (or the model output) reads


def _split(flat: keras.Model) -> _Split:
    """Trunk: every node whose layer re-creates from its config and whose inputs all come from the trunk."""
    trunk, head, trunk_tensors = [], [], {id(t) for t in flat.inputs}
    for node in _nodes_in_order(flat):
        inputs = tf.nest.flatten((node.call_args, node.call_kwargs))
        if all(id(t) in trunk_tensors for t in inputs if hasattr(t, "_keras_history")) \
                and _clone(node.outbound_layer) is not None:
            trunk.append(node)
            trunk_tensors.update(id(t) for t in tf.nest.flatten(node.outputs))
        else:
            head.append(node)
    read = [t for node in head for t in tf.nest.flatten((node.call_args, node.call_kwargs))] + list(flat.outputs)
    boundary = list({id(t): t for t in read if id(t) in trunk_tensors}.values())  # first-read order, no repeats
    return _Split(trunk, head, boundary)


def _rebuild(nodes: list, tensors: dict, make: Callable[[keras.layers.Layer, list], tuple]) -> None:
    """Node by node, call what `make(layer, outputs)` gives, `(callable, copy)`, on the mapped inputs; the
    copy (None when the layer itself is called) then gets the layer's weights."""
    for node in nodes:
        args, kwargs = _mapped(node, tensors)
        layer = node.outbound_layer
        call, copy = make(layer, tf.nest.flatten(node.outputs))
        _record(node, call(*args, **kwargs), tensors)
        if copy is not None:
            copy.set_weights(layer.get_weights())


def _trunk_model(flat: keras.Model, split: _Split, annotate: bool) -> tuple[keras.Model, dict[str, object], int]:
    """An independent copy of the trunk (outputs: the boundary tensors), trunk layers annotated if asked.
    Also returns each layer's new output by layer name (to read activations) and how many were annotated."""
    inputs = _new_inputs(flat.inputs, flat.input_names)
    tensors = {id(old): new for old, new in zip(flat.inputs, inputs, strict=True)}
    annotated = 0

    def make(layer, outputs):
        nonlocal annotated
        clone = _clone(layer)
        if annotate and _is_trunk(layer, outputs):
            annotated += 1
            return tfmot.quantization.keras.quantize_annotate_layer(clone), clone
        return clone, clone

    _rebuild(split.trunk, tensors, make)
    by_name = {node.outbound_layer.name: tensors[id(tf.nest.flatten(node.outputs)[0])] for node in split.trunk}
    model = keras.Model(_one_or_list(inputs), _one_or_list([tensors[id(t)] for t in split.boundary]), name="trunk")
    return model, by_name, annotated


def _head_model(flat: keras.Model, split: _Split) -> keras.Model:
    """The head as a model of the boundary tensors: layers copied where they can be, shared otherwise (the
    export graph's own constant layers); a shared layer with weights is frozen, so QAT never changes it."""
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype) for t in split.boundary]
    tensors = {id(old): new for old, new in zip(split.boundary, inputs, strict=True)}

    def make(layer, outputs):
        clone = _clone(layer)
        if clone is None:
            layer.trainable = not layer.weights
            return layer, None
        return clone, clone

    _rebuild(split.head, tensors, make)
    return keras.Model(_one_or_list(inputs), _one_or_list([tensors[id(t)] for t in flat.outputs]), name="head")


def _is_trunk(layer: keras.layers.Layer, outputs: list) -> bool:
    """A convolutional-trunk layer tfmot quantizes like the converter: a known kind with 4-D outputs."""
    return isinstance(layer, TRUNK_LAYERS) and all(len(t.shape) == 4 for t in outputs)


@dataclass
class QATGraphs:
    """The same function twice: float (for conversion) and fake-quant (for training), sharing the head."""

    float_model: keras.Model
    qat_model: keras.Model
    float_trunk: keras.Model
    qat_trunk: keras.Model


def quantization_aware_model(export: keras.Model, range_images: np.ndarray) -> QATGraphs:
    """Float and fake-quant copies of the export graph `export` (any batch), trunk annotated, ranges set.

    The graph is flattened and cut where tfmot can no longer clone it; the trunk is annotated, the head
    (shared by both models) stays float. BatchNormalization is frozen (as in fine-tuning) and the spread
    `calibration`, if the graph keeps one, stays fixed as in training. `range_images` ((N, S, S, 3) uint8
    training photos) set every activation range to the float trunk's min/max over them, as PTQ calibration
    does. `export` itself is never modified.
    """
    flat = flatten_model(export)
    split = _split(flat)
    float_trunk, activations, _ = _trunk_model(flat, split, annotate=False)
    annotated, _, count = _trunk_model(flat, split, annotate=True)
    if not count:
        raise te.ExportError("QAT: the export graph has no convolutional trunk tfmot can quantize")
    with tfmot.quantization.keras.quantize_scope():
        qat_trunk = tfmot.quantization.keras.quantize_apply(annotated, scheme=_Scheme())
    head = _head_model(flat, split)
    for layer in [*qat_trunk.layers, *head.layers]:
        inner = layer.layer if isinstance(layer, _QuantizeWrapper) else layer
        if isinstance(inner, keras.layers.BatchNormalization) or inner.name == CALIBRATION_LAYER:
            inner.trainable = False
    _calibrate_ranges(qat_trunk, float_trunk, activations, range_images)
    image = _new_inputs(export.inputs, export.input_names)[0]
    float_model = keras.Model(image, head(float_trunk(image)), name="iqlite_float")
    qat_model = keras.Model(image, head(qat_trunk(image)), name="iqlite_qat")
    return QATGraphs(float_model, qat_model, float_trunk, qat_trunk)


def _calibrate_ranges(qat: keras.Model, plain: keras.Model, activations: dict[str, object],
                      images: np.ndarray) -> None:
    """Weight ranges by one training-mode pass; activation ranges := min/max of the float activations
    (`activations`: `plain`'s tensors by layer name)."""
    if len(images) == 0:
        raise ValueError("need at least one photo to calibrate the quantization ranges")
    qat(images[:1].astype(np.float32), training=True)  # LastValueQuantizer: weight ranges := current weights
    quantized = [layer for layer in qat.layers if isinstance(layer, _QuantizeWrapper) and layer._output_quantizers]
    probe = keras.Model(plain.inputs, [activations[layer.layer.name] for layer in quantized])
    low = np.full(len(quantized), np.inf)
    high = np.full(len(quantized), -np.inf)
    for start in range(0, len(images), RANGE_BATCH):
        outs = probe(images[start:start + RANGE_BATCH].astype(np.float32), training=False)
        outs = outs if isinstance(outs, list) else [outs]
        low = np.minimum(low, [float(tf.reduce_min(o)) for o in outs])
        high = np.maximum(high, [float(tf.reduce_max(o)) for o in outs])
    for layer, lo, hi in zip(quantized, low, high, strict=True):
        layer._output_quantizer_vars["min_var"].assign(min(lo, 0.0))  # int8 ranges always contain 0
        layer._output_quantizer_vars["max_var"].assign(max(hi, 0.0))


class _MirrorBatches(CropFlipBatches):
    """Training's batches of whole photos, each mirrored or not at random, but with the float model's score of
    that very image as the target (`targets[:, 0]` as is, `[:, 1]` mirrored); reproducible from (seed, epoch)."""

    def __init__(self, images: np.ndarray, targets: np.ndarray, batch_size: int, seed: int):
        unnamed = ImageSet(images, targets[:, 0], [""] * len(images), [None] * len(images))
        super().__init__(unnamed, batch_size, crop_fraction=1.0, seed=seed)
        self.targets = targets

    def __getitem__(self, index: int):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.data))
        idx = order[index * self.batch_size:(index + 1) * self.batch_size]
        mirror = np.random.default_rng([self.seed, self.epoch, index]).random(len(idx)) < 0.5
        batch = self.data.images[idx].astype(np.float32)
        batch[mirror] = batch[mirror][:, :, ::-1]
        return batch, self.targets[idx, mirror.astype(int)].reshape(-1, 1)


def train_qat(model: keras.Model, train_images: np.ndarray, val_images: np.ndarray, val_human: np.ndarray,
              range_images: np.ndarray, *, epochs: int = DEFAULT_EPOCHS,
              learning_rate: float = DEFAULT_LEARNING_RATE, batch_size: int = 16, seed: int = 0,
              log: Callable[[str], None] = print) -> QATResult:
    """Fine-tune a quantization-aware copy of `model` towards its own float scores; keep the best epoch.

    Photos are (N, S, S, 3) uint8 at the export size S; `val_human` are the validation photos' 0–5 human
    scores, which guard the epoch choice (`_better`; 0 = ranges set, no weight changed). `model` is not modified.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if len(val_images) < 3:
        raise te.ExportError(f"QAT chooses its epoch on validation photos and needs at least 3, got {len(val_images)}")
    size = int(train_images.shape[1])
    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    graphs = quantization_aware_model(te.fixed_size_model(model, size, batch_size=None), range_images)
    targets = np.stack([predict_scores(graphs.float_model, train_images, batch_size),
                        predict_scores(graphs.float_model, train_images[:, :, ::-1], batch_size)], axis=1)
    qat = graphs.qat_model
    qat.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    batches = _MirrorBatches(train_images, targets, batch_size, seed)
    val_float = predict_scores(graphs.float_model, val_images, batch_size)

    def record(epoch: int, loss: float | None) -> dict:
        """Validation SRCC of the fake-quant model vs human (NaN counts as -1), and how close it is to the
        float model (what the distillation trains for); `_better` chooses the epoch from both."""
        scores = predict_scores(qat, val_images, batch_size)
        srcc = metrics.srcc(scores, val_human)
        return {"epoch": epoch, "loss": loss, "val_srcc": -1.0 if math.isnan(srcc) else srcc,
                "val_srcc_vs_float": metrics.srcc(scores, val_float),
                "val_max_abs_diff_vs_float": float(np.abs(scores - val_float).max()),
                "seconds": round(time.monotonic() - started, 1)}

    history = [record(0, None)]
    best, best_weights = history[0], qat.get_weights()
    log(f"QAT epoch 0 (ranges calibrated, no fine-tuning): validation SRCC {best['val_srcc']:.4f}, "
        f"vs float {best['val_srcc_vs_float']:.4f}")
    for epoch in range(1, epochs + 1):
        batches.epoch = epoch
        fit = qat.fit(batches, epochs=1, verbose=0, shuffle=False)
        history.append(record(epoch, float(fit.history["loss"][-1])))
        improved = _better(history[-1], best)
        if improved:
            best, best_weights = history[-1], qat.get_weights()
        log(f"QAT epoch {epoch}/{epochs}: distillation loss {history[-1]['loss']:.5f}, validation SRCC "
            f"{history[-1]['val_srcc']:.4f}, vs float {history[-1]['val_srcc_vs_float']:.4f}"
            + (" (best so far)" if improved else ""))
    qat.set_weights(best_weights)
    _copy_trained_weights(graphs.qat_trunk, graphs.float_trunk)  # the head is shared: trained in place
    image = keras.Input(shape=(size, size, 3), batch_size=1, name="image")
    fixed = keras.Model(image, graphs.float_model(image, training=False), name="iqlite_qat")
    return QATResult(fixed, best["epoch"], history, round(time.monotonic() - started, 1))


def _better(candidate: dict, best: dict) -> bool:
    """Is this epoch's model the better one to ship? The one whose validation scores track the float model's
    most closely (SRCC between them), as long as it still ranks the photos at all (SRCC vs human not NaN).

    Why not the best SRCC against the human scores: the float model's accuracy was already chosen on these
    photos, and on ~100 photos that SRCC moves by +-0.02 from noise alone. Chosen that way (or with a floor of
    0.01 below epoch 0), epoch 0, i.e. PTQ's weights, kept winning by chance on LIVE-C folds while the
    fine-tuned epochs tracked the float model twice as closely, which is what QAT is for.
    """
    return candidate["val_srcc"] > -1.0 and candidate["val_srcc_vs_float"] > best["val_srcc_vs_float"]


def _copy_trained_weights(qat: keras.Model, plain: keras.Model) -> None:
    """Every float weight of the fake-quant trunk into the float trunk, matched by variable name.

    By name, not by layer: tfmot's wrapper takes over the wrapped layer's kernel (the inner layer no longer
    lists it), and the wrapper adds its quantizer ranges, which stay behind (the converter calibrates its
    own on the same photos).
    """
    trained: dict[str, tf.Variable] = {}
    for variable in qat.weights:
        trained.setdefault(variable.name, variable)
    for layer in plain.layers:
        missing = [w.name for w in layer.weights if w.name not in trained]
        if missing:
            raise te.ExportError(f"QAT: no trained value for {', '.join(missing)} (a tfmot naming change?)")
        if layer.weights:
            layer.set_weights([trained[w.name].numpy() for w in layer.weights])


def compare_int8(float_scores: np.ndarray, human: np.ndarray, names: list[str], int8_models: dict[str, bytes],
                 images: np.ndarray) -> dict:
    """Float vs each int8 model (.tflite bytes) on the same photos: SRCC vs human for each, SRCC float vs
    int8, max and mean |score difference| with the photo of the largest, and `iqlite.export.parity`'s pass bar."""
    report: dict = {"photos": len(images), "float": {"srcc_vs_human": metrics.srcc(float_scores, human)}}
    for kind, content in int8_models.items():
        parity = compare_scores(float_scores, tflite_scores(content, images), human, names)
        report[kind] = {"bytes_before_metadata": len(content), **parity.to_dict()}
    return report


def qat_int8(run_dir: str | os.PathLike, images_dir: str | os.PathLike, model: keras.Model, representative: np.ndarray,
             *, ptq_content: bytes, report_path: str | os.PathLike, epochs: int = DEFAULT_EPOCHS,
             learning_rate: float = DEFAULT_LEARNING_RATE, batch_size: int = 16, seed: int = 0,
             log: Callable[[str], None] = print) -> bytes:
    """QAT int8 .tflite bytes of a run's trained `model`, compared with its PTQ export `ptq_content`.

    Trains on all the run's training photos (from split.csv) at the size of `representative` (the
    calibration photos, also used for the QAT ranges), chooses the epoch on its validation photos, and
    writes float/PTQ/QAT numbers on those photos to `report_path` (JSON). The bytes are what
    `tflite_export.quantize_int8` returns, ready for the same metadata and saving as a PTQ export.
    """
    size = int(representative.shape[1])
    train_images = te.representative_images(run_dir, images_dir, n=sys.maxsize, image_size=size, log=log)
    versions = ladder_versions(run_dir, images_dir, size, seed=seed, log=log)
    if len(versions):
        train_images = np.concatenate([train_images, versions])
    val_images, val_human, val_names = validation_photos(run_dir, images_dir, size, log=log)
    log(f"QAT: {epochs} epoch(s) on {len(train_images)} training photos and their mirror images at {size} px, "
        f"learning rate {learning_rate:g}, epoch chosen on {len(val_images)} validation photos")
    result = train_qat(model, train_images, val_images, val_human, representative, epochs=epochs,
                       learning_rate=learning_rate, batch_size=batch_size, seed=seed, log=log)
    content = te.quantize_int8(result.model, representative)
    float_scores = predict_scores(model, val_images, batch_size)
    report = compare_int8(float_scores, val_human, val_names, {"ptq": ptq_content, "qat": content}, val_images)
    report["qat"].update(epochs=epochs, best_epoch=result.best_epoch, learning_rate=learning_rate,
                         train_photos=len(train_images), seconds=result.seconds, history=result.history)
    atomic.write_json(report_path, report)
    log(format_comparison(report) + f"\nwrote {report_path}")
    return content


#: Ladder versions per training photo that join QAT's distillation set for a compression-aware run.
QAT_VERSIONS_PER_PHOTO = 2


def ladder_versions(run_dir: str | os.PathLike, images_dir: str | os.PathLike, size: int, *, seed: int = 0,
                    log: Callable[[str], None] = print) -> np.ndarray:
    """A seeded sample of the ladder versions a compression-aware run trained on (none for other runs).

    QAT distils the float model's scores; on photos alone it only has to keep their order, and the small
    differences between a photo and its encodings fade in int8 (fold 0 of benchmarks.compression_aware_cv:
    post-training int8 lost a third of the JPEG q20 drop). Distilling on versions too keeps what the float
    model learned about compression.
    """
    import json

    from iqlite.training.data.compression_rows import DerivedTargets, compression_rows
    from iqlite.training.regressor.config import TrainConfig

    run = Path(run_dir)
    config = TrainConfig.from_dict(json.loads((run / te.CONFIG_FILE).read_text(encoding="utf-8")))
    if not config.compression_ladders:
        return np.zeros((0, size, size, 3), np.uint8)
    names = te.training_names(run / te.SPLIT_FILE)
    photos = ImageSet(np.zeros((len(names), 1, 1, 3), np.uint8), np.zeros(len(names), np.float32), names,
                      [None] * len(names))
    rows = compression_rows(photos, images_dir, config.compression_ladders, DerivedTargets(), size, progress=False)
    by_photo: dict[str, list[int]] = {}
    for i, group in enumerate(rows.groups):
        by_photo.setdefault(str(group), []).append(i)
    rng = np.random.default_rng(seed)
    pick = sorted(j for group in by_photo.values()
                  for j in rng.choice(group, size=min(QAT_VERSIONS_PER_PHOTO, len(group)), replace=False))
    log(f"QAT: with {len(pick)} ladder versions of {len(by_photo)} training photos (compression-aware run)")
    return rows.images[pick]


def format_comparison(report: dict) -> str:
    """A few lines: SRCC vs human of float, PTQ and QAT, and how closely each int8 model tracks the float one."""
    lines = [f"on {report['photos']} validation photos: float SRCC vs human {report['float']['srcc_vs_human']:.4f}"]
    for kind in ("ptq", "qat"):
        r = report[kind]
        lines.append(f"  {kind.upper()} int8: SRCC vs human {r['srcc_int8_vs_human']:.4f}, vs float "
                     f"{r['srcc_float_vs_int8']:.4f}, max |diff| {r['max_abs_diff']:.3f} stars, mean "
                     f"{r['mean_abs_diff']:.3f}" + ("" if r["passed"] else " (below the parity bar)"))
    return "\n".join(lines)
