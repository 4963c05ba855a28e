"""Quality-aware pre-training without labels: teach the backbone that more distortion ranks lower (RankIQA).

Human scores are scarce (656 photos per LIVE-C fold); synthetic ranks are free. Every source photo is
degraded along the graded ladders of `iqlite.training.data.distortions` (blur, motion blur, noise,
under/over-exposure, low contrast, JPEG, levels 1-4). Within one photo and one distortion kind, a higher
level is worse, whatever the photo's own quality: that order needs no rater. The regressor (backbone and a
throw-away linear head on its pooled features) learns it with a pairwise hinge on its logit, between
versions of the same photo only (across photos the order is unknown). The backbone weights are then saved as
a MobileNetV2 .h5 that `TrainConfig.weights` (and `--weights`) accepts, so the MOS recipe starts from them
instead of ImageNet's.

Each batch holds `photos_per_batch` photos, each in `versions` versions (the untouched photo counts as level
0) sharing one random crop, so the pair differs only in the distortion. Deterministic from the seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from iqlite.training.core import atomic
from iqlite.training.data.distortions import DISTORTIONS, LEVELS, distort
from iqlite.training.regressor.fine_tune_optim import learning_rate
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import backbone_of, build_model, full_mobilenet, logit_model, unfreeze_top
from iqlite.training.regressor.model_spec import ModelSpec

RANK_MARGIN = 1.0  # logit units between a version and the next worse one


@dataclass(frozen=True)
class PretrainConfig:
    """The knobs of the ranking pre-training."""

    steps: int = 600
    photos_per_batch: int = 4
    versions: int = 4  # per photo: distinct levels drawn from 0 (untouched) .. 4
    crop: int = 336
    lr: float = 1e-4
    warmup_steps: int = 30
    unfreeze_from: str = "block_1_expand"
    seed: int = 0


class LadderPairs(keras.utils.Sequence):
    """Batches of `versions` graded versions of `photos_per_batch` photos; targets (photo slot, level)."""

    def __init__(self, photos: np.ndarray, config: PretrainConfig):
        super().__init__()
        self.photos = photos
        self.cfg = config

    def __len__(self) -> int:
        return self.cfg.steps

    def __getitem__(self, index: int):
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, index])
        size = self.photos.shape[1]
        crop = min(cfg.crop, size)
        images, targets = [], []
        for slot, i in enumerate(rng.choice(len(self.photos), size=cfg.photos_per_batch, replace=False)):
            kind = DISTORTIONS[rng.integers(len(DISTORTIONS))]
            levels = np.sort(rng.choice(len(LEVELS) + 1, size=cfg.versions, replace=False))
            top, left = rng.integers(0, size - crop + 1, size=2)
            flip = rng.random() < 0.5
            photo = self.photos[i]
            seed = int(rng.integers(2**31))
            for level in levels:
                version = photo if level == 0 else distort(photo, kind, int(level), seed=seed)
                patch = version[top : top + crop, left : left + crop]
                images.append(patch[:, ::-1] if flip else patch)
                targets.append((slot, level))
        return np.stack(images).astype(np.float32), np.array(targets, np.float32)


def ladder_rank_loss(y_true: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """Mean hinge relu(margin - (z_i - z_j)) over pairs of one photo where version i is less distorted."""
    slot, level = y_true[:, 0], y_true[:, 1]
    z = tf.reshape(z, [-1])
    same = tf.cast(tf.equal(slot[:, None], slot[None, :]), tf.float32)
    better = tf.cast(level[:, None] < level[None, :], tf.float32)
    pairs = same * better
    hinge = tf.nn.relu(RANK_MARGIN - (z[:, None] - z[None, :])) * pairs
    return tf.math.divide_no_nan(tf.reduce_sum(hinge), tf.reduce_sum(pairs))


def pretrain_backbone(photos: np.ndarray, out: Path, config: PretrainConfig = PretrainConfig(),
                      spec: ModelSpec = ModelSpec(), weights: str | None = "imagenet", log=print) -> dict:
    """Rank-pre-train the backbone on `photos` (uint8 N x S x S x 3) and save it as a MobileNetV2 .h5 at `out`.

    Returns a summary (steps, seconds, final loss, share of held-back pairs ordered correctly before/after).
    """
    keras.utils.set_random_seed(config.seed)
    model = build_model(spec, weights)
    unfreeze_top(model, config.unfreeze_from)
    logits = logit_model(model)
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate("cosine", config.lr, config.steps, config.warmup_steps))
    logits.compile(optimizer=optimizer, loss=ladder_rank_loss)
    check = LadderPairs(photos, replace(config, steps=20, seed=config.seed + 1))  # held-back batches
    before = pair_accuracy(logits, check)
    started = time.time()
    history = logits.fit(LadderPairs(photos, config), epochs=1, verbose=2, shuffle=False)
    seconds = time.time() - started
    after = pair_accuracy(logits, check)
    log(f"rank pre-training: {config.steps} steps in {seconds:.0f} s; pairs ordered right {before:.3f} -> {after:.3f}")
    save_mobilenet_weights(backbone_of(model), spec.alpha, weights, out)
    return {"steps": config.steps, "seconds": round(seconds, 1), "final_loss": float(history.history["loss"][-1]),
            "pair_accuracy_before": before, "pair_accuracy_after": after, "photos": int(len(photos))}


def load_photo_folders(folders: list[Path], size: int, progress: bool = True,
                       log=print) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Every readable image under `folders` at `size` x `size` (sorted, so runs repeat), and (path, reason)
    for every file left out: nothing is dropped without a line saying why."""
    from tqdm import tqdm

    from iqlite.training.core.errors import InputError, display_path
    from iqlite.training.core.images import ImageLoadError, load_for_model, scan_images

    paths, skipped = [], []
    for folder in folders:
        scan = scan_images(folder)
        paths.extend(scan.images)
        skipped.extend((display_path(s.path), s.reason) for s in scan.skipped)
    photos = []
    for path in tqdm(paths, desc=f"loading photos at {size}px", unit="img", disable=not progress):
        try:
            photos.append(load_for_model(path, size))
        except ImageLoadError as err:
            skipped.append((display_path(path), err.reason))
    if len(photos) < 4:
        raise InputError(f"rank pre-training needs at least 4 readable photos; found {len(photos)} in "
                         + ", ".join(display_path(f) for f in folders))
    for path, reason in skipped[:5]:
        log(f"  skipped {path}: {reason}")
    if len(skipped) > 5:
        log(f"  ... and {len(skipped) - 5} more skipped")
    return np.stack(photos), skipped


def pair_accuracy(logits: keras.Model, batches: LadderPairs) -> float:
    """Share of within-photo pairs whose less distorted version gets the higher logit."""
    right = total = 0
    for i in range(len(batches)):
        x, y = batches[i]
        z = logits.predict_on_batch(x).reshape(-1)
        for a in range(len(z)):
            for b in range(len(z)):
                if y[a, 0] == y[b, 0] and y[a, 1] < y[b, 1]:
                    total += 1
                    right += int(z[a] > z[b])
    return right / total if total else math.nan


def save_mobilenet_weights(backbone: keras.Model, alpha: float, weights: str | None, out: Path) -> None:
    """Write a full no-top MobileNetV2 .h5: the backbone's layers, and for the layers past the cut those of
    the starting `weights` (so the file loads wherever ImageNet's would)."""
    full = full_mobilenet(alpha, weights)
    trained = {layer.name: layer for layer in backbone.layers}
    for layer in full.layers:
        if layer.name in trained and layer.weights:
            layer.set_weights(trained[layer.name].get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:  # the temporary name keeps the .h5 ending Keras reads the format from
        full.save_weights(str(tmp))
