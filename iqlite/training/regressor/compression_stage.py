"""The compression stage: teach a trained photo model compression while it keeps its scores on rated photos.

Why a stage after training, not a second objective from the start (docs/compression_aware.md has the fold
numbers): trained jointly with ladder versions, from either absolute derived targets or photo-to-version
pairs, the model learnt compression but lost 0.015-0.03 LIVE-C SRCC on held-out photos. Here the finished,
calibrated model is its own teacher ("learning without forgetting"): its scores of the full training photos
become their targets, so on rated photos the stage only has to stay where it is, while ladder pairs (a photo
and the same crop of one of its encodings) teach the drop derived from SSIMULACRA 2
(`losses.with_ladder_pairs`). A few epochs at a low constant rate, every epoch checkpointed and resumable;
the spread calibration is refitted at the end on the same photos as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from iqlite.training.core import atomic
from iqlite.training.data.dataset import ImageSet
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.evaluate import predict_scores
from iqlite.training.regressor.fine_tune_optim import StagedModel, staged_optimizers, staged_variables
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.losses import make_loss, with_ladder_pairs
from iqlite.training.regressor.model import backbone_of, restore_checkpoint, unfreeze_top

STAGE_STATE = "compression_state.json"
STAGE_DIR = "compression"  # checkpoints of the stage's epochs


def teacher_targets(model: keras.Model, photos: ImageSet, batch_size: int) -> ImageSet:
    """The photos with the model's own scores of them as targets (what the stage must keep)."""
    scores = predict_scores(model, photos.images, batch_size).astype("float32")
    return ImageSet(photos.images, scores, photos.names, photos.groups)


def run_compression_stage(model: keras.Model, config: TrainConfig, train: ImageSet, extra: ImageSet,
                          run_dir: str | Path, *, epochs_log: Callable[[dict], None] | None = None,
                          verbose: int = 2, log: Callable[[str], None] = print) -> keras.Model:
    """Train `model` (calibrated; changed in place and returned) for `config.compression_epochs` epochs on
    teacher-scored `train` photos plus ladder pairs from `extra` (versions whose scores are drops).

    Resumes from the last finished epoch in `run_dir`; the teacher targets are recomputed from the model
    the stage started from, which is saved as `run_dir/compression/start` on the first run.
    """
    from iqlite.training.regressor.train import CropFlipBatches

    run_dir = Path(run_dir)
    stage_dir = run_dir / STAGE_DIR
    state_path = run_dir / STAGE_STATE
    state = _load_state(state_path)
    start = tf.train.Checkpoint(model=model)
    if state["start"]:
        restore_checkpoint(start, state["start"])
    else:
        state["start"] = start.write(str(stage_dir / "start"))
        atomic.write_json(state_path, state)
    rated = teacher_targets(model, train, config.batch_size)
    unfreeze_top(model, config.fine_tune_from, bn_affine=config.fine_tune_bn == "affine")
    batches = CropFlipBatches(rated, config.batch_size, config.crop_fraction, config.seed + 1, extra,
                              config.compression_versions_per_epoch, pairs=True)
    groups = staged_variables(model, backbone_of(model))
    steps = config.compression_epochs * len(batches)
    optimizers = staged_optimizers("constant", config.compression_lr, config.lr_stage_decay, steps, 0, len(groups))
    staged = StagedModel(model.inputs, model.outputs)
    staged.set_stages(groups, optimizers)
    staged.compile(optimizer=optimizers[0],
                   loss=with_ladder_pairs(make_loss("mse"), config.compression_pair_weight))
    checkpoint = tf.train.Checkpoint(model=model, optimizers=optimizers)
    manager = tf.train.CheckpointManager(checkpoint, str(stage_dir / "epochs"), max_to_keep=2)
    if state["checkpoint"]:
        restore_checkpoint(checkpoint, state["checkpoint"])
    if state["epochs_done"] >= config.compression_epochs:
        return model
    log(f"phase compression: epochs {state['epochs_done'] + 1}..{config.compression_epochs}, the trained model's"
        f" own scores of {len(train)} photos held (teacher) + {batches.extra_count()} (photo, version) pairs of"
        f" {len(extra)} ladder versions per epoch, learning rate {config.compression_lr:g} constant")

    class Keeper(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.epoch = epoch
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            state["epochs_done"] = epoch + 1
            state["checkpoint"] = manager.save(checkpoint_number=epoch + 1)
            loss = float(logs.get("loss", math.nan)) if logs else math.nan
            state["history"].append({"epoch": epoch + 1, "loss": loss, "seconds": round(time.time() - self.started, 1)})
            atomic.write_json(state_path, state)
            if epochs_log is not None:
                epochs_log(state["history"][-1])

    staged.fit(batches, epochs=config.compression_epochs, initial_epoch=state["epochs_done"], callbacks=[Keeper()],
               verbose=verbose, shuffle=False)
    return model


def compression_aware(model: keras.Model, config: TrainConfig, train: ImageSet, extra: ImageSet,
                      calibration: ImageSet, run_dir: str | Path, *, verbose: int = 2,
                      log: Callable[[str], None] = print) -> keras.Model:
    """The stage, then the spread calibration refitted on `calibration` (the photos the first one used)."""
    from iqlite.training.regressor.model import set_calibration
    from iqlite.training.regressor.train import fit_calibration

    run_compression_stage(model, config, train, extra, run_dir, verbose=verbose, log=log)
    slope, offset = fit_calibration(model, calibration, config.batch_size)
    set_calibration(model, slope, offset)
    log(f"compression stage done; spread calibration refitted: 5*sigmoid({slope:.3f}*z {offset:+.3f})")
    return model


def _load_state(path: Path) -> dict:
    import json

    if path.exists():
        return json.loads(path.read_text())
    return {"start": "", "checkpoint": "", "epochs_done": 0, "history": []}
