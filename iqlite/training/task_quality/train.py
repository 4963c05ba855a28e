"""Two-phase training of the metrifier, with a checkpoint every epoch, resume, and the best epoch kept.

Phase 1 ("head"): the backbone is frozen, so the pooled features of every version are computed once; the
standardisation is set from the training features and both heads are fitted on them (Adam, full data, a
few seconds). Phase 2 ("fine_tune"): the backbone from `fine_tune_from` up trains with the heads on the
images, at a low learning rate, BatchNormalization frozen.

Losses: binary cross-entropy of the predicted accuracy against the measured one (soft targets in [0, 1]),
plus `family_weight` x cross-entropy of the distortion family. After every epoch the validation SRCC of the
accuracy is measured, the best weights so far are kept (`best/`), a checkpoint of weights and optimizer is
written and `state.json` records where the run stands: a run killed at any point resumes from its last
finished epoch with the same command. At the end the best epoch is restored and saved as model.keras.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iqlite.training.core import atomic, metrics
from iqlite.training.core.errors import UserError
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import remove_checkpoint, restore_checkpoint
from iqlite.training.task_quality.config import MetrifierConfig
from iqlite.training.task_quality.dataset import TaskData
from iqlite.training.task_quality.degradations import FAMILIES
from iqlite.training.task_quality.metrifier import (
    ACCURACY,
    DISTORTION,
    FEATURE_NORM,
    build_metrifier,
    feature_model,
    head_model,
    set_trainable_from,
)

__all__ = ["MODEL_FILE", "MetrifierRun", "predict", "validation_metrics"]

STATE_FILE = "state.json"
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
PHASES = ("head", "fine_tune")


class RunMismatchError(UserError, RuntimeError):
    """The run folder holds a run with another recipe or data set."""


@dataclass
class RunState:
    fingerprint: str
    phase: str = PHASES[0]
    epochs_done: int = 0
    since_best: int = 0
    best_srcc: float | None = None
    best_epoch: str = ""
    best_checkpoint: str = ""
    checkpoint: str = ""
    history: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> RunState:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, path: Path) -> None:
        atomic.write_json(path, self.__dict__)


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy (N,), family probabilities (N, K)) of a metrifier on uint8 images."""
    acc, fam = [], []
    for start in range(0, len(images), batch_size):
        out = model(tf.constant(images[start:start + batch_size], tf.float32), training=False)
        acc.append(out[ACCURACY].numpy().reshape(-1))
        fam.append(out[DISTORTION].numpy())
    return np.concatenate(acc), np.concatenate(fam)


def validation_metrics(accuracy: np.ndarray, probabilities: np.ndarray, data: TaskData) -> dict:
    """SRCC, PLCC, RMSE of the accuracy and the family head's accuracy, against the measured values."""
    found = metrics.evaluate(accuracy, data.accuracy)
    family_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == data.family))
    return {"srcc": found["srcc"], "plcc": found["plcc"], "rmse": found["rmse"], "family_accuracy": family_accuracy}


class _Batches(keras.utils.Sequence):
    """Shuffled training batches, reproducible from (seed, epoch)."""

    def __init__(self, data: TaskData, batch_size: int, seed: int) -> None:
        super().__init__()
        self.data, self.batch_size, self.seed, self.epoch = data, batch_size, seed, 0

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def __getitem__(self, index: int):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.data))
        idx = np.sort(order[index * self.batch_size:(index + 1) * self.batch_size])
        targets = {ACCURACY: self.data.accuracy[idx].reshape(-1, 1),
                   DISTORTION: keras.utils.to_categorical(self.data.family[idx], len(FAMILIES))}
        return self.data.inputs[idx].astype(np.float32), targets


class MetrifierRun:
    """One metrifier run in one folder: train (or resume), keep the best epoch, save model.keras."""

    def __init__(self, config: MetrifierConfig, train: TaskData, val: TaskData, run_dir, *, data_fingerprint: str = "",
                 log: Callable[[str], None] = print, verbose: int = 2) -> None:
        self.config, self.train, self.val, self.log, self.verbose = config, train, val, log, verbose
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        fingerprint = f"{config.fingerprint()}-{data_fingerprint}"
        state_path = self.dir / STATE_FILE
        if state_path.is_file():
            self.state = RunState.load(state_path)
            if self.state.fingerprint != fingerprint:
                raise RunMismatchError(f"{self.dir} holds a metrifier run with another recipe or data set "
                                       f"({self.state.fingerprint}, now {fingerprint}); use a new --out folder")
            self.log(f"resuming {self.dir}: phase {self.state.phase}, {self.state.epochs_done} epochs done")
        else:
            self.state = RunState(fingerprint)
        atomic.write_json(self.dir / CONFIG_FILE, config.to_dict())

    def fit(self) -> keras.Model:
        cfg = self.config
        keras.utils.set_random_seed(cfg.seed)
        model = build_metrifier(cfg)
        for phase in PHASES:
            if self.state.phase == "done" or PHASES.index(self.state.phase) > PHASES.index(phase):
                continue
            if phase == "head":
                self._fit_heads(model)
            elif cfg.fine_tune_epochs > 0:
                self._fine_tune(model)
            self.state.phase = PHASES[PHASES.index(phase) + 1] if phase != PHASES[-1] else "done"
            self.state.epochs_done, self.state.since_best, self.state.checkpoint = 0, 0, ""
            self.state.save(self.dir / STATE_FILE)
        self._restore_best(model)
        with atomic.atomic_path(self.dir / MODEL_FILE) as tmp:
            model.save(str(tmp))
        keys = ["phase", "epoch", "loss", "val_srcc", "val_plcc", "val_rmse", "val_family_accuracy", "seconds"]
        atomic.write_csv(self.dir / "history.csv", keys, [[h.get(k, "") for k in keys] for h in self.state.history])
        self.log(f"kept epoch {self.state.best_epoch}: validation SRCC {self.state.best_srcc:.4f}")
        return model

    def record_epoch(self, model: keras.Model, phase: str, epoch: int, loss: float, seconds: float) -> bool:
        """Validation metrics into the history; the weights kept if this is the best SRCC so far."""
        accuracy, probabilities = predict(model, self.val.inputs, self.config.batch_size * 2)
        found = validation_metrics(accuracy, probabilities, self.val)
        srcc = -1.0 if math.isnan(found["srcc"]) else found["srcc"]
        improved = self.state.best_srcc is None or srcc > self.state.best_srcc
        if improved:
            previous = self.state.best_checkpoint
            prefix = self.dir / "best" / f"{phase}-{epoch}"
            self.state.best_checkpoint = tf.train.Checkpoint(model=model).write(str(prefix))
            remove_checkpoint(previous)
            self.state.best_srcc, self.state.best_epoch, self.state.since_best = srcc, f"{phase}:{epoch}", 0
        self.state.history.append({"phase": phase, "epoch": epoch, "loss": loss, "val_srcc": found["srcc"],
                                   "val_plcc": found["plcc"], "val_rmse": found["rmse"],
                                   "val_family_accuracy": found["family_accuracy"], "seconds": round(seconds, 1)})
        self.log(f"  {phase} epoch {epoch}: loss {loss:.4f}, val SRCC {found['srcc']:.4f} PLCC {found['plcc']:.4f}"
                 f" RMSE {found['rmse']:.3f}, family accuracy {found['family_accuracy']:.3f}"
                 + (" (best so far)" if improved else ""))
        return improved

    def _losses(self) -> tuple[dict, dict]:
        return ({ACCURACY: keras.losses.BinaryCrossentropy(), DISTORTION: keras.losses.CategoricalCrossentropy()},
                {ACCURACY: 1.0, DISTORTION: self.config.family_weight})

    def _fit_heads(self, model: keras.Model) -> None:
        cfg, started = self.config, time.time()
        set_trainable_from(model, None)
        self.log(f"phase head: frozen-backbone features of {len(self.train)} training and {len(self.val)} "
                 "validation versions")
        features = feature_model(model)
        train_x = _features(features, self.train.inputs, cfg.batch_size * 2)
        mean, variance = train_x.mean(axis=0), train_x.var(axis=0) + 1e-6
        norm = model.get_layer(FEATURE_NORM)
        norm.set_weights([mean.astype(np.float32), variance.astype(np.float32), norm.get_weights()[2]])
        standardised = ((train_x - mean) / np.sqrt(variance)).astype(np.float32)
        heads = head_model(model)
        loss, weights = self._losses()
        heads.compile(optimizer=keras.optimizers.Adam(cfg.head_lr), loss=loss, loss_weights=weights)
        targets = {ACCURACY: self.train.accuracy.reshape(-1, 1),
                   DISTORTION: keras.utils.to_categorical(self.train.family, len(FAMILIES))}
        history = heads.fit(standardised, targets, batch_size=256, epochs=cfg.head_epochs, verbose=0, shuffle=True)
        self.record_epoch(model, "head", 1, float(history.history["loss"][-1]), time.time() - started)

    def _fine_tune(self, model: keras.Model) -> None:
        cfg = self.config
        if not self.state.checkpoint:
            self._restore_best(model)
        unfrozen = set_trainable_from(model, cfg.fine_tune_from)
        optimizer = keras.optimizers.Adam(cfg.fine_tune_lr)
        loss, weights = self._losses()
        model.compile(optimizer=optimizer, loss=loss, loss_weights=weights)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(checkpoint, str(self.dir / "checkpoints"), max_to_keep=2)
        initial = 0
        if self.state.checkpoint:
            restore_checkpoint(checkpoint, self.state.checkpoint)
            initial = self.state.epochs_done
        if initial >= cfg.fine_tune_epochs or self.state.since_best >= cfg.patience:
            return
        batches = _Batches(self.train, cfg.batch_size, cfg.seed)
        self.log(f"phase fine_tune: epochs {initial + 1}..{cfg.fine_tune_epochs}, {unfrozen} backbone layers from "
                 f"{cfg.fine_tune_from} unfrozen (BatchNorm frozen), learning rate {cfg.fine_tune_lr:g}")
        model.fit(batches, epochs=cfg.fine_tune_epochs, initial_epoch=initial, shuffle=False, verbose=self.verbose,
                  callbacks=[_EpochKeeper(self, batches, manager, model)])

    def _restore_best(self, model: keras.Model) -> None:
        if self.state.best_checkpoint:
            restore_checkpoint(tf.train.Checkpoint(model=model), self.state.best_checkpoint)


class _EpochKeeper(keras.callbacks.Callback):
    def __init__(self, run: MetrifierRun, batches: _Batches, manager: tf.train.CheckpointManager,
                 metrifier: keras.Model) -> None:
        super().__init__()
        self.run, self.batches, self.manager, self.metrifier = run, batches, manager, metrifier
        self.started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        run, state = self.run, self.run.state
        loss = float((logs or {}).get("loss", math.nan))
        improved = run.record_epoch(self.metrifier, "fine_tune", epoch + 1, loss, time.time() - self.started)
        state.epochs_done = epoch + 1
        state.checkpoint = self.manager.save(checkpoint_number=epoch + 1)
        if not improved:
            state.since_best += 1
        state.save(run.dir / STATE_FILE)
        if state.since_best >= run.config.patience:
            run.log(f"  no better validation SRCC for {state.since_best} epochs: ending fine-tuning")
            self.model.stop_training = True


def _features(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    out = [model(tf.constant(images[s:s + batch_size], tf.float32), training=False).numpy()
           for s in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float64)
