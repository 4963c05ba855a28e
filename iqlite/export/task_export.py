"""A metrifier run (`python -m training task-quality`) -> the full-int8 task-quality .tflite (`iqlite_ocr.tflite`).

`python -m export task-model RUN --out FILE` rebuilds the trained metrifier behind a fixed 1xSxSx3 uint8
input, in an int8-friendly form (the two linear heads folded with the feature standardisation, means
standardised before pooling and standard deviations computed on channel-scaled, centred values, as
`iqlite.export.export_graph` does for the photo model; checked equal in float), calibrates int8 on training
versions of every distortion family, and writes it with official TFLite metadata that declares:

- output `accuracy`: the predicted task accuracy, on [0, 1] (`score.min`, `score.max`), higher is better;
  for OCR, 1 - Tesseract 5 LSTM's character error rate;
- output `distortion`: probabilities over the families in `score.labels` (clean, blur, ..., mix).

The input is raw uint8 pixels (scale 1, zero point 0, checked); tensors are named after their signature
keys (`image`, `accuracy`, `distortion`). Float-vs-int8 parity and the held-out agreement with the task's
real accuracy (float and int8) are measured and written into the report and the metadata. The file must fit
the 450 KB budget; nothing is written otherwise.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from iqlite.export.compact import compact_tflite
from iqlite.export.distance_export import _named_io
from iqlite.export.export_graph import CenteredStdPooling2D, ChannelAffine
from iqlite.export.metadata import IMAGE_INPUT, PREPROCESSING, ModelInfo, TensorMeta, embed_metadata
from iqlite.export.task_runner import TASK_KIND, TaskScorer
from iqlite.export.tflite_export import (
    DEFAULT_BUDGET_BYTES,
    ExportError,
    check_budget,
    check_inputs_are_raw_pixels,
    convert_full_int8,
)
from iqlite.training.core import metrics
from iqlite.training.core.atomic import write_bytes, write_json
from iqlite.training.core.errors import InputNotFoundError, display_path
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import GlobalStdPooling2D
from iqlite.training.task_quality.config import MetrifierConfig
from iqlite.training.task_quality.dataset import DATASET_FILE, TaskData, load_split
from iqlite.training.task_quality.degradations import FAMILIES
from iqlite.training.task_quality.metrifier import (
    ACCURACY,
    ACCURACY_LOGIT,
    BACKBONE,
    DISTORTION,
    DISTORTION_LOGITS,
    FEATURE_NORM,
    load_metrifier,
)
from iqlite.training.task_quality.run import DATA_DIR, METRICS_FILE, MODEL_DIR
from iqlite.training.task_quality.tasks import get_task

__all__ = ["export_task_model", "metrifier_export_graph", "task_info"]


def metrifier_export_graph(model: keras.Model, image_size: int) -> keras.Model:
    """The trained metrifier as a fixed (1, S, S, 3) graph with both heads folded onto balanced pooled features."""
    mean, variance, _ = model.get_layer(FEATURE_NORM).get_weights()
    mean = mean.astype(np.float64).reshape(-1)
    std = np.sqrt(variance.astype(np.float64).reshape(-1))  # the Normalization's, as training used it
    heads = {}
    for name in (ACCURACY_LOGIT, DISTORTION_LOGITS):
        kernel, bias = model.get_layer(name).get_weights()
        w = kernel.astype(np.float64) / std[:, None]  # on raw pooled features
        heads[name] = [w, bias.astype(np.float64) - mean @ w]
    image = keras.Input(shape=(image_size, image_size, 3), batch_size=1, name="image")
    x = model.get_layer("to_minus1_1")(image)
    features = model.get_layer(BACKBONE)(x, training=False)
    features = features if isinstance(features, list) else [features]
    pieces, scales, start = [], [], 0
    for i, fmap in enumerate(features):
        channels = int(fmap.shape[-1])
        mean_part, std_part = slice(start, start + channels), slice(start + channels, start + 2 * channels)
        # One scale per channel for both poolings: the channel's typical spread over a photo (the mean of its
        # std feature), floored at a tenth of the tap's median. Per-pixel values (x - mu) / s then have about
        # the same range in every channel, so the int8 tensor's one scale serves all of them; a nearly dead
        # channel (an activation that fires on a few pixels of a few photos) would otherwise be divided by its
        # tiny spread and blow up the range every other channel is quantized with. Exact in float: the head
        # weights are multiplied by the same s.
        spread = np.abs(mean[std_part])
        s = np.maximum(spread, max(0.1 * float(np.median(spread)), 1e-3))
        mu = mean[mean_part]
        shifted = ChannelAffine(1.0 / s, -mu / s, name=f"standardise_{i}")(fmap)
        pieces.append(keras.layers.GlobalAveragePooling2D(name=f"mean_pool_{i}")(shifted))
        scales.append(("mean", mean_part, mu, s))
        pieces.append(CenteredStdPooling2D(s, name=f"std_pool_{i}")(fmap))
        scales.append(("std", std_part, None, s))
        start += 2 * channels
    if start != len(mean):
        raise ExportError(f"pooled features have {start} channels but the heads read {len(mean)}")
    pooled = keras.layers.Concatenate(name="pooled_balanced")(pieces)
    outputs = {}
    for name, out_name, activation in ((ACCURACY_LOGIT, ACCURACY, "sigmoid"),
                                       (DISTORTION_LOGITS, DISTORTION, "softmax")):
        w, b = heads[name]
        rows, bias = [], b.copy()
        for kind, part, mu, scale in scales:
            rows.append(w[part] * scale[:, None])
            if kind == "mean":
                bias += mu @ w[part]
        dense = keras.layers.Dense(w.shape[1], name=f"{out_name}_head")
        z = dense(pooled)
        dense.set_weights([np.concatenate(rows).astype(np.float32), bias.astype(np.float32)])
        outputs[out_name] = (keras.layers.Activation("sigmoid", name=out_name)(z) if activation == "sigmoid"
                             else keras.layers.Softmax(name=out_name)(z))
    return keras.Model(image, outputs, name="iqlite_task_export")


def _check_same_function(trained: keras.Model, exported: keras.Model, size: int) -> float:
    probe = np.random.default_rng(0).integers(0, 256, size=(2, size, size, 3)).astype(np.float32)
    worst = 0.0
    for image in probe:
        a, b = trained(image[None], training=False), exported(image[None], training=False)
        for key in (ACCURACY, DISTORTION):
            worst = max(worst, float(np.max(np.abs(a[key].numpy() - b[key].numpy()))))
    if worst > 1e-3:
        raise ExportError(f"the export graph differs from the trained metrifier by up to {worst:.2g}")
    return worst


def _representative(data: TaskData, n: int, seed: int = 0) -> np.ndarray:
    """Up to `n` training versions, the same share of every family (all of them calibrate the ranges)."""
    rng = np.random.default_rng(seed)
    per_family = max(1, n // len(FAMILIES))
    picks = []
    for k in range(len(FAMILIES)):
        rows = np.nonzero(data.family == k)[0]
        picks.extend(rng.choice(rows, size=min(per_family, len(rows)), replace=False).tolist())
    images = data.inputs[np.sort(np.asarray(picks, int))]
    if images.max() < 255:  # the uint8 input's scale comes out 1 only if some pixel reaches 255
        images = images.copy()
        images[0, 0, 0, :] = 255
    return images


def _batches(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def generate() -> Iterator[list[np.ndarray]]:
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]

    return generate


def _agreement(scorer: TaskScorer, data: TaskData) -> dict:
    predictions = [scorer.predict_array(image) for image in data.inputs]
    accuracy = np.asarray([p.score for p in predictions])
    families = np.asarray([FAMILIES.index(p.distortion) for p in predictions])
    found = metrics.evaluate(accuracy, data.accuracy)
    return {"versions": len(data), "srcc": found["srcc"], "plcc": found["plcc"], "rmse": found["rmse"],
            "family_accuracy": float(np.mean(families == data.family)), "_scores": accuracy, "_families": families}


def task_info(task_name: str, config: MetrifierConfig, image_size: int, data_info: dict, metrics_: dict) -> ModelInfo:
    """The metadata of a task-quality model: tensors, the declared [0, 1] scale and labels, data, accuracy."""
    task = get_task(task_name)
    outputs = (TensorMeta(name=ACCURACY, description=task.score_meaning, stats_min=(0.0,), stats_max=(1.0,)),
               TensorMeta(name=DISTORTION, description="probability of each distortion family, in the order of "
                          f"score.labels: {', '.join(FAMILIES)}", stats_min=(0.0,), stats_max=(1.0,)))
    score = {"kind": TASK_KIND, "name": f"{task_name}_accuracy", "task": task_name, "min": 0.0, "max": 1.0,
             "higher_is_better": True, "output": ACCURACY, "meaning": task.score_meaning,
             "labels_output": DISTORTION, "labels": list(FAMILIES),
             "task_network": ("Tesseract 5 LSTM (--oem 1 --psm 6), English model; error = character error rate "
                              "(Levenshtein distance / length), clipped to [0, 1]") if task_name == "ocr" else
             type(task).__doc__}
    return ModelInfo(
        name=f"iqlite {task_name} readability",
        description=(f"Quality for machines: predicts how well {task_name.upper()} will read a photo (its accuracy, "
                     "0-1, higher is better) and which distortion family is to blame, from the photo alone. "
                     "MobileNetV2 0.35 metrifier with a bounded sigmoid output and a softmax family head."),
        inputs=(IMAGE_INPUT,), outputs=outputs, input=IMAGE_INPUT, output=outputs[0], score=score,
        preprocessing=PREPROCESSING,
        architecture={"backbone": "MobileNetV2", "alpha": config.alpha, "cut_layer": config.cut_layer,
                      "taps": list(config.taps), "pooling": "mean and std per tap", "heads": "linear + sigmoid "
                      "(accuracy), linear + softmax (distortion)", "image_size": image_size},
        training_data=data_info, metrics=metrics_)


def export_task_model(run_dir: str | os.PathLike, out: str | os.PathLike, *, float_out: str | os.PathLike | None = None,
                      budget_bytes: int | None = DEFAULT_BUDGET_BYTES, representative: int = 200,
                      refit_heads: bool = True, log: Callable[[str], None] = print) -> dict:
    """Write the int8 model (and optionally the float32 one) of a task-quality run folder; returns the report
    (also written as RUN/export_report.json)."""
    started = time.monotonic()
    root = Path(run_dir)
    model_path, dataset_path = root / MODEL_DIR / "model.keras", root / DATA_DIR / DATASET_FILE
    for path in (model_path, dataset_path):
        if not path.is_file():
            raise InputNotFoundError(f"{display_path(path)} not found: is {display_path(root)} a finished "
                                     "`python -m training task-quality` folder?")
    dataset = json.loads(dataset_path.read_text(encoding="utf-8"))
    settings = dataset["settings"]
    config = MetrifierConfig.from_dict(json.loads((root / MODEL_DIR / "config.json").read_text(encoding="utf-8")))
    size = int(settings["image_size"])
    keras.utils.get_custom_objects()["GlobalStdPooling2D"] = GlobalStdPooling2D
    trained = load_metrifier(model_path)
    exported = metrifier_export_graph(trained, size)
    _check_same_function(trained, exported, size)
    train = load_split(root / DATA_DIR, "train")
    rep = _representative(train, representative)
    log(f"calibrating int8 on {len(rep)} training versions of {len(FAMILIES)} families ...")
    float_content = _named_io(tf.lite.TFLiteConverter.from_keras_model(exported).convert())
    content = _named_io(convert_full_int8(exported, _batches(rep)))
    check_inputs_are_raw_pixels(content)
    val = load_split(root / DATA_DIR, "val")
    test = _optional_split(root / DATA_DIR, "test")
    float_val = _agreement(TaskScorer(_probe(float_content)), val)
    int8_val = _agreement(TaskScorer(_probe(content)), val)
    head_refit: dict = {"used": False}
    if refit_heads:
        refit = _refit_heads_on_int8_features(lambda: metrifier_export_graph(trained, size), content, train, config,
                                              seed=config.seed, log=log)
        if refit is not None:
            candidate = _named_io(convert_full_int8(refit, _batches(rep)))
            check_inputs_are_raw_pixels(candidate)
            refit_val = _agreement(TaskScorer(_probe(candidate)), val)
            head_refit = {"validation_srcc_ptq_heads": int8_val["srcc"],
                          "validation_srcc_refit_heads": refit_val["srcc"],
                          "validation_family_accuracy_ptq_heads": int8_val["family_accuracy"],
                          "validation_family_accuracy_refit_heads": refit_val["family_accuracy"]}
            head_refit["used"] = bool(refit_val["srcc"] >= int8_val["srcc"])
            log(f"heads refitted on the int8 model's own features: validation SRCC {int8_val['srcc']:.4f} -> "
                f"{refit_val['srcc']:.4f}, family accuracy {int8_val['family_accuracy']:.3f} -> "
                f"{refit_val['family_accuracy']:.3f}" + (" (kept)" if head_refit["used"] else " (not kept)"))
            if head_refit["used"]:
                content, int8_val = candidate, refit_val
    del train
    parity = {"validation_versions": len(val),
              "srcc_float_int8": metrics.srcc(float_val["_scores"], int8_val["_scores"]),
              "max_abs_diff": float(np.max(np.abs(float_val["_scores"] - int8_val["_scores"]))),
              "mean_abs_diff": float(np.mean(np.abs(float_val["_scores"] - int8_val["_scores"]))),
              "family_agreement": float(np.mean(float_val["_families"] == int8_val["_families"]))}
    found = {"parity": parity, "validation": {"float": _public(float_val), "int8": _public(int8_val)},
             "int8_head_refit": head_refit}
    if test is not None:
        found["held_out_test"] = {"float": _public(_agreement(TaskScorer(_probe(float_content)), test)),
                                  "int8": _public(_agreement(TaskScorer(_probe(content)), test)),
                                  "what": "documents in fonts and words training never saw"}
    log(f"parity on {len(val)} validation versions: SRCC float/int8 {parity['srcc_float_int8']:.4f}, largest "
        f"difference {parity['max_abs_diff']:.3f}")
    data_info = {"task": settings["task"], "documents": dataset.get("documents_per_split"),
                 "versions": dataset.get("versions_per_split"),
                 "what": "rendered receipts, labels and paragraphs (Debian fonts), degraded along graded ladders "
                         "of blur, motion blur, noise, JPEG, low light, low contrast, downscaling, glare and mixes; "
                         "target = the task network's measured accuracy on each version"}
    info = task_info(settings["task"], config, size, data_info, found)
    finished = compact_tflite(embed_metadata(content, info))
    if TaskScorer(finished).raw_outputs(val.inputs[0]) != TaskScorer(_probe(content)).raw_outputs(val.inputs[0]):
        raise ExportError("embedding metadata or compacting changed the task model's outputs")
    check_budget(len(finished), budget_bytes)
    write_bytes(out, finished)
    if float_out is not None:
        write_bytes(float_out, compact_tflite(embed_metadata(float_content, info)))
    report = {"path": str(out), "size_bytes": len(finished), "budget_bytes": budget_bytes, "image_size": size,
              "float_path": str(float_out) if float_out else None, "metrics": found,
              "seconds": round(time.monotonic() - started, 1)}
    run_metrics = root / METRICS_FILE
    if run_metrics.is_file():
        report["keras_metrics"] = json.loads(run_metrics.read_text(encoding="utf-8"))
    write_json(root / EXPORT_REPORT, report)  # in the run folder: the assets folder holds only models
    log(f"wrote {out}: {len(finished):,} bytes ({len(finished) / 1000:.1f} KB), input [1,{size},{size},3] uint8")
    return report


EXPORT_REPORT = "export_report.json"
POOLED_TENSOR = "pooled_balanced/concat"  # the int8 model's pooled features, as the converter names them
REFIT_VERSIONS = 3000


def _int8_features(content: bytes, images: np.ndarray) -> np.ndarray | None:
    """The pooled features as the int8 model computes them (dequantized), or None if the tensor is not found."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    found = [d for d in interpreter.get_tensor_details() if d["name"].endswith(POOLED_TENSOR)]
    if len(found) != 1:
        return None
    detail, image_index = found[0], interpreter.get_input_details()[0]["index"]
    scale, zero_point = detail["quantization"]
    rows = []
    for image in images:
        interpreter.set_tensor(image_index, image[np.newaxis])
        interpreter.invoke()
        rows.append(scale * (interpreter.get_tensor(detail["index"]).astype(np.float64).reshape(-1) - zero_point))
    return np.stack(rows)


def _refit_heads_on_int8_features(build: Callable[[], keras.Model], content: bytes, train: TaskData,
                                  config: MetrifierConfig, seed: int,
                                  log: Callable[[str], None]) -> keras.Model | None:
    """A new export graph (`build()`) whose two heads are refitted on the pooled features of the int8 model.

    Why: post-training quantization of the backbone rounds the pooled features by a good part of their spread
    across photos (measured on documents: 0.2 at stride 4 to 0.7 of the spread at the cut), and heads fitted on
    float features read that rounding as signal. The information survives, only the map changes: heads
    refitted on the int8 model's own features (same losses, L2 and dropout as training, on up to 3000 training
    versions) recover the float model's held-out SRCC. The trunk's int8 ranges do not depend on the heads, so
    the reconverted model computes exactly these features. Returns None when the features cannot be read.
    """
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.permutation(len(train))[:REFIT_VERSIONS])
    log(f"reading the int8 model's pooled features of {len(picks)} training versions ...")
    features = _int8_features(content, train.inputs[picks])
    if features is None:
        log("int8 pooled features not found in the converted model: heads not refitted")
        return None
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = ((features - mean) / std).astype(np.float32)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    h = keras.layers.Dropout(config.dropout)(inputs)
    l2 = keras.regularizers.l2(config.head_l2) if config.head_l2 else None
    heads = {ACCURACY: keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=l2, name=ACCURACY)(h),
             DISTORTION: keras.layers.Dense(len(FAMILIES), activation="softmax", kernel_regularizer=l2,
                                            name=DISTORTION)(h)}
    model = keras.Model(inputs, heads)
    model.compile(optimizer=keras.optimizers.Adam(config.head_lr),
                  loss={ACCURACY: "binary_crossentropy", DISTORTION: "categorical_crossentropy"},
                  loss_weights={ACCURACY: 1.0, DISTORTION: config.family_weight})
    model.fit(x, {ACCURACY: train.accuracy[picks].reshape(-1, 1),
                  DISTORTION: keras.utils.to_categorical(train.family[picks], len(FAMILIES))},
              batch_size=256, epochs=config.head_epochs, verbose=0, shuffle=True)
    refit = build()  # a fresh export graph on the same trained backbone; only its heads change
    for name in (ACCURACY, DISTORTION):
        kernel, bias = model.get_layer(name).get_weights()
        folded = kernel.astype(np.float64) / std[:, None]
        refit.get_layer(f"{name}_head").set_weights([folded.astype(np.float32),
                                                     (bias - mean @ folded).astype(np.float32)])
    return refit


def _optional_split(folder: Path, split: str) -> TaskData | None:
    try:
        return load_split(folder, split)
    except ValueError:
        return None


def _public(found: dict) -> dict:
    return {k: v for k, v in found.items() if not k.startswith("_")}


def _probe(content: bytes) -> bytes:
    """`content` with a minimal task metadata, so `TaskScorer` reads a model before its real metadata exists."""
    score = {"kind": TASK_KIND, "name": "probe", "min": 0.0, "max": 1.0, "output": ACCURACY,
             "labels_output": DISTORTION, "labels": list(FAMILIES)}
    info = ModelInfo(inputs=(IMAGE_INPUT,), outputs=(TensorMeta(ACCURACY, "", (0.0,), (1.0,)),
                                                     TensorMeta(DISTORTION, "", (0.0,), (1.0,))), score=score)
    return embed_metadata(content, info)
