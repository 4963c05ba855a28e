"""Two-phase transfer learning with per-epoch checkpoints, resume, and best-model selection on validation SRCC.

Phase 1 ("head") fits the new head on a frozen backbone; phase 2 ("fine_tune") unfreezes the top blocks at
a low learning rate with BatchNormalization frozen (the keras-io transfer-learning recipe).

A frozen backbone gives the same pooled features for a photo every time, so phase 1 computes them once (for
each photo and its mirror image) and fits the linear head in closed form (`ridge_head`): seconds, and a
converged head before fine-tuning starts. Phase 2 trains on random crops. After every
epoch the validation SRCC is measured; the best weights so far are kept, and a phase stops early after
`patience` epochs without improvement. Every epoch also writes a checkpoint (weights and optimizer state)
and `state.json`, so a run killed at any point resumes from its last finished epoch with the same command.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize

from iqlite.training.core import atomic, metrics
from iqlite.training.core.errors import UserError
from iqlite.training.data.dataset import ImageSet
from iqlite.training.regressor.config import TrainConfig, crop_side
from iqlite.training.regressor.evaluate import predict_scores
from iqlite.training.regressor.fine_tune_optim import StagedModel, staged_optimizers, staged_variables
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.losses import ROLE_PAIR_PHOTO, ROLE_PAIR_VERSION, make_loss, with_ladder_pairs
from iqlite.training.regressor.model import (
    SCORE_MAX,
    backbone_of,
    build_model,
    freeze_backbone,
    logit_model,
    pooled_feature_model,
    remove_checkpoint,
    restore_checkpoint,
    set_calibration,
    set_linear_head,
    unfreeze_top,
)
from iqlite.training.regressor.ridge_head import cross_validated_penalty, fit_ridge_head

PHASES = ("head", "fine_tune")
STATE_FILE = "state.json"
BEST_DIR = "best"  # weights of the best epoch so far, as TF checkpoints (matched by object, not layer order)
MODEL_FILE = "model.keras"


class RunMismatchError(UserError, RuntimeError):
    """The run folder holds a run with a different configuration; resuming it would mix two runs."""


@dataclass
class RunState:
    """Where a run stands; written atomically after every epoch."""

    fingerprint: str
    phase: str = PHASES[0]  # the phase in progress, or "done"
    epochs_done: int = 0  # finished epochs of the current phase
    since_best: int = 0  # epochs of the current phase without a better validation SRCC
    best_srcc: float = -math.inf
    best_epoch: str = ""
    best_checkpoint: str = ""  # prefix of the best epoch's weights checkpoint
    checkpoint: str = ""  # checkpoint of the last finished epoch of the current phase
    history: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> RunState:
        data = json.loads(path.read_text())
        data["best_srcc"] = -math.inf if data.get("best_srcc") is None else data["best_srcc"]
        return cls(**data)

    def save(self, path: Path) -> None:
        data = dict(self.__dict__)
        data["best_srcc"] = None if math.isinf(self.best_srcc) else self.best_srcc
        atomic.write_json(path, data)


class CropFlipBatches(keras.utils.Sequence):
    """Training batches of random crops and horizontal flips, reproducible from (seed, epoch, batch).

    Only augmentations that keep perceived quality: a crop keeps the pixels at their own scale (no
    resampling, which would blur) and most of the scene; a mirror image is as good as the original.
    """

    def __init__(self, data: ImageSet, batch_size: int, crop_fraction: float, seed: int,
                 extra: ImageSet | None = None, extra_per_group: int = 0, pairs: bool = False):
        """`extra`: ladder versions (named "<photo>@<setting>"); each epoch draws `extra_per_group` of each
        photo's afresh, so an epoch costs a fixed number of steps however many versions a photo has.

        Without `pairs` a drawn version is one more row with its own score. With `pairs` its score is the
        drop from its photo, and it travels with the same crop of its photo: each batch is `batch_size`
        rated photos, then the photos of its share of the pairs, then their versions, and targets are
        (score, role) rows for `losses.with_ladder_pairs`.
        """
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        size = data.images.shape[1]
        self.crop = crop_side(size, crop_fraction)
        self.seed = seed
        self.epoch = 0
        self.extra = extra if extra is not None and len(extra) else None
        self.pairs = pairs and self.extra is not None
        self.extra_groups: list[np.ndarray] = []
        self.photo_of = np.zeros(0, int)
        if self.extra is not None:
            by_group: dict[str, list[int]] = {}
            for i, g in enumerate(self.extra.groups):
                by_group.setdefault(str(g), []).append(i)
            self.extra_groups = [np.array(v) for _, v in sorted(by_group.items())]
            if self.pairs:
                where = {name: i for i, name in enumerate(data.names)}
                self.photo_of = np.array([where[name.rpartition("@")[0]] for name in self.extra.names])
        self.extra_per_group = extra_per_group

    def extra_count(self) -> int:
        return sum(min(self.extra_per_group, len(g)) for g in self.extra_groups)

    def __len__(self) -> int:
        rows = len(self.data) if self.pairs else len(self.data) + self.extra_count()
        return math.ceil(rows / self.batch_size)

    def extra_rows(self, epoch: int) -> np.ndarray:
        """Indices into `extra` of the versions drawn for `epoch` (empty without extra rows)."""
        if not self.extra_groups:
            return np.zeros(0, int)
        rng = np.random.default_rng([self.seed, epoch, 1])
        picks = [rng.choice(g, size=min(self.extra_per_group, len(g)), replace=False) for g in self.extra_groups]
        return np.concatenate(picks)

    def _patch(self, images: np.ndarray, row: int, top: int, left: int, flip: bool) -> np.ndarray:
        patch = images[row, top : top + self.crop, left : left + self.crop]
        return patch[:, ::-1] if flip else patch

    def __getitem__(self, index: int):
        n = len(self.data)
        extra = self.extra_rows(self.epoch)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        size = self.data.images.shape[1]
        if self.pairs:
            idx = np.random.default_rng([self.seed, self.epoch]).permutation(n)[
                index * self.batch_size : (index + 1) * self.batch_size]
            shuffled = np.random.default_rng([self.seed, self.epoch, 2]).permutation(extra)
            versions = np.array_split(shuffled, len(self))[index]
        else:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n + len(extra))
            idx, versions = order[index * self.batch_size : (index + 1) * self.batch_size], np.zeros(0, int)
        rows = len(idx) + 2 * len(versions)
        batch = np.empty((rows, self.crop, self.crop, 3), np.float32)
        targets = np.zeros((rows, 2), np.float32)  # (score, role); the role column only with pairs
        for j, i in enumerate(idx):
            source, row = (self.data, i) if i < n else (self.extra, extra[i - n])
            top, left = rng.integers(0, size - self.crop + 1, size=2)
            batch[j] = self._patch(source.images, row, top, left, bool(rng.random() < 0.5))
            targets[j, 0] = source.scores[row]
        for k, v in enumerate(versions):  # the same crop and flip of the photo and its version
            top, left = rng.integers(0, size - self.crop + 1, size=2)
            flip = bool(rng.random() < 0.5)
            photo_row, version_row = len(idx) + k, len(idx) + len(versions) + k
            batch[photo_row] = self._patch(self.data.images, self.photo_of[v], top, left, flip)
            batch[version_row] = self._patch(self.extra.images, v, top, left, flip)
            targets[photo_row] = (self.extra.scores[v], ROLE_PAIR_PHOTO)
            targets[version_row] = (self.extra.scores[v], ROLE_PAIR_VERSION)
        return batch, (targets if self.pairs else targets[:, :1])


class EpochKeeper(keras.callbacks.Callback):
    """After each epoch: validation SRCC, best weights, checkpoint, state file, and early stopping."""

    def __init__(self, run: TrainingRun, batches: CropFlipBatches, manager: tf.train.CheckpointManager,
                 regressor: keras.Model):
        super().__init__()
        self.run = run
        self.regressor = regressor  # the model whose weights are kept (fit may drive a wrapper sharing them)
        self.batches = batches
        self.manager = manager
        self.started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        run, state = self.run, self.run.state
        loss = float(logs.get("loss", math.nan)) if logs else math.nan
        improved = run.record_epoch(self.regressor, "fine_tune", epoch + 1, loss, time.time() - self.started)
        state.epochs_done = epoch + 1
        state.checkpoint = self.manager.save(checkpoint_number=epoch + 1)
        state.save(run.dir / STATE_FILE)
        if not improved:
            state.since_best += 1
        if state.since_best >= run.config.patience:
            run.log(f"  no better validation SRCC for {state.since_best} epochs: ending fine-tuning")
            self.model.stop_training = True


class TrainingRun:
    """One training run in one folder: train, resume, calibrate, save."""

    def __init__(self, config: TrainConfig, train: ImageSet, val: ImageSet, run_dir: str | os.PathLike,
                 *, extra: ImageSet | None = None, resume: bool = True, verbose: int | None = None, log=print):
        """`extra`: rows that join training but not validation or the spread calibration (the ladder versions
        of the training photos, `training/data/compression_rows.py`); phase 2 draws
        `config.compression_versions_per_epoch` of each group into every epoch."""
        self.config = config
        self.train = train
        self.val = val
        self.extra = extra if extra is not None and len(extra) else None
        self.dir = Path(run_dir)
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
        self.log = log
        self.dir.mkdir(parents=True, exist_ok=True)
        state_path = self.dir / STATE_FILE
        fingerprint = config.fingerprint()
        if resume and state_path.exists():
            self.state = RunState.load(state_path)
            if self.state.fingerprint != fingerprint:
                raise RunMismatchError(
                    f"{self.dir} holds a run with a different configuration (fingerprint {self.state.fingerprint},"
                    f" now {fingerprint}); use a new --out folder or --restart to start over"
                )
            self.log(f"resuming {self.dir}: phase {self.state.phase}, {self.state.epochs_done} epochs done")
        else:
            self.state = RunState(fingerprint)
        atomic.write_json(self.dir / "config.json", config.to_dict())

    def fit(self) -> keras.Model:
        """Run (or finish) both phases and return the best, calibrated model, also saved as model.keras."""
        cfg = self.config
        if cfg.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(cfg.seed)
        model = build_model(cfg.model, cfg.weights)
        for phase in PHASES:
            if self.state.phase == "done" or PHASES.index(self.state.phase) > PHASES.index(phase):
                continue
            if phase == "head":
                self._fit_head(model)
            else:
                self._fine_tune(model)
            self.state.phase = PHASES[PHASES.index(phase) + 1] if phase != PHASES[-1] else "done"
            self.state.epochs_done, self.state.since_best, self.state.checkpoint = 0, 0, ""
            self.state.save(self.dir / STATE_FILE)
        self._restore_best(model)
        calibration_set, where = self._calibration_photos()
        slope, offset = fit_calibration(model, calibration_set, cfg.batch_size)
        set_calibration(model, slope, offset)
        why = "the last one" if cfg.select_epoch == "last" else "best validation SRCC"
        self.log(f"kept epoch {self.state.best_epoch} ({why}): validation SRCC {self.state.best_srcc:.4f};"
                 f" spread calibration on {where}: 5*sigmoid({slope:.3f}*z {offset:+.3f})")
        if self.extra is not None and cfg.compression_loss == "stage":
            from iqlite.training.regressor.compression_stage import compression_aware

            compression_aware(model, cfg, self.train, self.extra, calibration_set, self.dir, verbose=self.verbose,
                              log=self.log)
        with atomic.atomic_path(self.dir / MODEL_FILE) as tmp:
            model.save(str(tmp))
        self._write_history()
        return model

    def _validation_is_small(self) -> bool:
        return len(self.val) < self.config.min_validation_photos

    def _calibration_photos(self) -> tuple[ImageSet, str]:
        """The photos the spread calibration is fitted on, and how to name them in the log.

        Validation photos normally: they are the ones the model did not learn from. A small or narrow
        validation set cannot carry it: fitted on one scene of 29 photos, the calibration once pushed every
        other scene to the top of the scale. Then training and validation photos are used together (two
        parameters of a monotone map on in-sample scores, a small optimism against a wrecked spread).
        """
        val_std = float(np.std(self.val.scores)) if len(self.val) else 0.0
        train_std = float(np.std(self.train.scores))
        narrow = val_std < 0.5 * train_std
        if not self._validation_is_small() and not narrow:
            return self.val, f"{len(self.val)} validation photos"
        why = (f"only {len(self.val)} validation photos (< {self.config.min_validation_photos})"
               if self._validation_is_small() else
               f"validation scores are narrow (std {val_std:.2f} vs {train_std:.2f} in training)")
        both = self.train.concat(self.val)
        return both, f"all {len(both)} photos, because {why}"

    def record_epoch(self, model: keras.Model, phase: str, epoch: int, loss: float, seconds: float) -> bool:
        """Validation metrics into the history; keep the weights if this is the best SRCC so far (or, with
        `select_epoch="last"`, always: the epoch count is then the recipe's, chosen by cross-validation, and
        the validation photos only report). Returns whether the weights were kept."""
        state = self.state
        val = metrics.evaluate(predict_scores(model, self.val.images, self.config.batch_size), self.val.scores)
        val_srcc = -1.0 if math.isnan(val["srcc"]) else val["srcc"]
        last = self.config.select_epoch == "last"
        improved = last or val_srcc > state.best_srcc
        if improved:
            previous = state.best_checkpoint
            prefix = self.dir / BEST_DIR / f"{phase}-{epoch}"
            state.best_checkpoint = tf.train.Checkpoint(model=model).write(str(prefix))
            remove_checkpoint(previous)
            state.best_srcc, state.best_epoch, state.since_best = val_srcc, f"{phase}:{epoch}", 0
        state.history.append({"phase": phase, "epoch": epoch, "loss": loss, "val_srcc": val["srcc"],
                              "val_plcc": val["plcc"], "val_rmse": val["rmse"], "seconds": round(seconds, 1)})
        self.log(f"  {phase} epoch {epoch}: loss {loss:.4f}, val SRCC {val['srcc']:.4f} PLCC {val['plcc']:.4f}"
                 f" RMSE {val['rmse']:.3f}" + ("" if not improved else " (kept)" if last else " (best so far)"))
        return improved

    def _fit_head(self, model: keras.Model) -> None:
        """Phase 1: ridge head on pooled features of every training photo and its mirror image."""
        cfg = self.config
        started = time.time()
        freeze_backbone(model)
        self.log(f"phase head: ridge head on frozen-backbone features of {len(self.train)} training photos"
                 f" (and their mirror images), penalty chosen on {len(self.val)} validation photos")
        features = pooled_feature_model(model)
        train_x = np.concatenate([predict_scores(features, self.train.images, cfg.batch_size, flat=False),
                                  predict_scores(features, self.train.images[:, :, ::-1], cfg.batch_size, flat=False)])
        train_y = np.concatenate([self.train.scores, self.train.scores])
        val_x = predict_scores(features, self.val.images, cfg.batch_size, flat=False)
        penalties = cfg.ridge_penalties
        if self._validation_is_small():
            penalties = self._cross_validated_penalties(train_x)
        if self.extra is not None and cfg.compression_loss == "targets":  # the versions epoch 1 will draw
            drawn = self._batches().extra_rows(0)
            train_x = np.concatenate([train_x, predict_scores(features, self.extra.images[drawn], cfg.batch_size,
                                                              flat=False)])
            train_y = np.concatenate([train_y, self.extra.scores[drawn]])
            self.log(f"  with {len(drawn)} ladder versions of {len(self._batches().extra_groups)} training photos")
        head = fit_ridge_head(train_x, train_y, val_x, self.val.scores, penalties)
        set_linear_head(model, head.mean, head.variance, head.weights, head.bias)
        train_mse = float(np.mean((head.scores(train_x) - train_y) ** 2))
        self.log(f"  ridge penalty {head.penalty:g} (validation SRCC {head.val_srcc:.4f})")
        self.record_epoch(model, "head", 1, train_mse, time.time() - started)

    def _cross_validated_penalties(self, train_x: np.ndarray) -> tuple[float, ...]:
        """The penalty chosen by grouped cross-validation on the training photos (rows: photos, then mirrors)."""
        cfg, n = self.config, len(self.train)
        try:
            penalty, cv_srcc = cross_validated_penalty(train_x[:n], train_x[n:], self.train.scores, self.train.groups,
                                                       cfg.ridge_penalties, seed=cfg.seed)
        except ValueError as err:  # too few photos or groups even for that: keep the validation choice
            self.log(f"  ridge penalty chosen on {len(self.val)} validation photos ({err})")
            return cfg.ridge_penalties
        self.log(f"  {len(self.val)} validation photos are too few to choose the ridge penalty: chosen by 5-fold"
                 f" cross-validation on the {n} training photos (mean SRCC {cv_srcc:.4f})")
        return (penalty,)

    def _fine_tune(self, model: keras.Model) -> None:
        """Phase 2: the backbone from `fine_tune_from` up and the head on random crops, one Adam per stage on
        the recipe's schedule (`fine_tune_optim`), with the recipe's loss and BatchNorm mode."""
        cfg = self.config
        if not self.state.checkpoint:
            self._restore_best(model)  # fine-tune from the best head
        unfrozen = unfreeze_top(model, cfg.fine_tune_from, bn_affine=cfg.fine_tune_bn == "affine")
        batches = self._batches()
        groups = staged_variables(model, backbone_of(model))
        steps = cfg.fine_tune_epochs * len(batches)
        optimizers = staged_optimizers(cfg.fine_tune_schedule, cfg.fine_tune_lr, cfg.lr_stage_decay, steps,
                                       cfg.warmup_epochs * len(batches), len(groups))
        staged = StagedModel(model.inputs, model.outputs)
        staged.set_stages(groups, optimizers)
        loss = make_loss(cfg.loss, cfg.rank_weight)
        if batches.pairs:
            loss = with_ladder_pairs(loss, cfg.compression_pair_weight)
        staged.compile(optimizer=optimizers[0], loss=loss)
        checkpoint = tf.train.Checkpoint(model=model, optimizers=optimizers)
        manager = tf.train.CheckpointManager(checkpoint, str(self.dir / "checkpoints" / "fine_tune"), max_to_keep=2)
        initial_epoch = 0
        if self.state.checkpoint:
            restore_checkpoint(checkpoint, self.state.checkpoint)
            initial_epoch = self.state.epochs_done
        if initial_epoch >= cfg.fine_tune_epochs or self.state.since_best >= cfg.patience:
            return
        stages = "" if cfg.lr_stage_decay == 1 else f", x{cfg.lr_stage_decay:g} per lower stage"
        if batches.extra is not None:
            stages += (f"; each epoch {len(self.train)} photos + {batches.extra_count()} of their"
                       f" {len(batches.extra)} ladder versions" + (" as (photo, version) pairs" if batches.pairs
                                                                     else ""))
        self.log(f"phase fine_tune: epochs {initial_epoch + 1}..{cfg.fine_tune_epochs}, {unfrozen} backbone layers"
                 f" from {cfg.fine_tune_from} unfrozen (BatchNorm {cfg.fine_tune_bn}), {cfg.loss} loss, learning"
                 f" rate {cfg.fine_tune_lr:g} {cfg.fine_tune_schedule}{stages}")
        staged.fit(batches, epochs=cfg.fine_tune_epochs, initial_epoch=initial_epoch,
                  callbacks=[EpochKeeper(self, batches, manager, model)], verbose=self.verbose, shuffle=False)

    def _batches(self) -> CropFlipBatches:
        """Phase 2's batches: with ladder versions only when they train jointly (not in the later stage)."""
        cfg = self.config
        joint = self.extra if cfg.compression_loss in ("pairs", "targets") else None
        return CropFlipBatches(self.train, cfg.batch_size, cfg.crop_fraction, cfg.seed, joint,
                               cfg.compression_versions_per_epoch, pairs=cfg.compression_loss == "pairs")

    def _restore_best(self, model: keras.Model) -> None:
        if self.state.best_checkpoint:
            restore_checkpoint(tf.train.Checkpoint(model=model), self.state.best_checkpoint)

    def _write_history(self) -> None:
        keys = ["phase", "epoch", "loss", "val_srcc", "val_plcc", "val_rmse", "seconds"]
        atomic.write_csv(self.dir / "history.csv", keys, [[h[k] for k in keys] for h in self.state.history])


def fit_calibration(model: keras.Model, val: ImageSet, batch_size: int = 16) -> tuple[float, float]:
    """Least-squares fit of slope and offset so 5*sigmoid(slope*z + offset) matches the scores of `val`
    (the validation photos, or every photo when those are too few: `TrainingRun._calibration_photos`).

    Monotone (slope > 0), so it never changes the ranking (SRCC); it widens or shifts the band the scores
    use, which light models tend to squeeze. Falls back to identity when validation data can't support it.
    """
    z = predict_scores(logit_model(model), val.images, batch_size)
    return fit_spread_calibration(z, val.scores)


def fit_spread_calibration(logits: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Slope and offset of 5*sigmoid(slope*z + offset) fitted to `scores` by least squares (see `fit_calibration`).

    Shared by the model's calibration and by heads fitted outside a Keras model (the NIMA comparison), so
    every "calibrated regressor" in the project is calibrated the same way.
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(y) < 3 or np.ptp(z) == 0 or np.ptp(y) == 0:
        return 1.0, 0.0

    def residual(params: np.ndarray) -> np.ndarray:
        return SCORE_MAX / (1.0 + np.exp(-(params[0] * z + params[1]))) - y

    fit = optimize.least_squares(residual, x0=[1.0, 0.0], bounds=([0.2, -10.0], [5.0, 10.0]))
    return float(fit.x[0]), float(fit.x[1])
