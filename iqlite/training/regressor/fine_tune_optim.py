"""Phase-2 optimisation: a learning-rate schedule, and lower learning rates for lower backbone stages.

Why stages: the early MobileNetV2 blocks hold generic edge and texture detectors that a few hundred photos
cannot improve much but can easily wreck, while the late blocks hold ImageNet's object semantics, the part
a quality task most needs to change. So each resolution stage below the top one trains at `lr_stage_decay`
times the learning rate of the stage above it (layer-wise learning-rate decay, as in BEiT/ULMFiT
fine-tuning). Adam divides each gradient by its own running scale, so scaling gradients would not change
its steps; each stage therefore gets its own Adam, applied in one training step (`StagedModel`).

Schedule: constant, or linear warm-up then cosine decay to zero over the phase (per optimizer step), so the
last epochs settle with small steps; the schedule state lives in the optimizers' step counters, which the
per-epoch checkpoint saves, so a resumed run continues on the same curve.
"""

from __future__ import annotations

from collections.abc import Sequence

from iqlite.training.regressor.config import SCHEDULES
from iqlite.training.regressor.keras_setup import keras, tf

#: First layer of each MobileNetV2 resolution stage, top stage first (the layers before the last start
#: belong to the lowest stage, which also holds the stem).
STAGE_STARTS = ("block_13_expand", "block_6_expand", "block_3_expand")


def learning_rate(schedule: str, lr: float, total_steps: int, warmup_steps: int):
    """A Keras learning rate (float or schedule) for `schedule` (one of SCHEDULES)."""
    if schedule == "constant":
        return lr
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    warmup_steps = min(max(0, warmup_steps), max(0, total_steps - 1))
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, total_steps))
    return keras.optimizers.schedules.CosineDecay(
        lr * 0.01, decay_steps=max(1, total_steps - warmup_steps), warmup_target=lr, warmup_steps=warmup_steps)


def stage_of(layer_name: str, backbone_names: Sequence[str]) -> int:
    """0 for the top stage (and anything outside the backbone), 1 for the one below, and so on."""
    if layer_name not in backbone_names:
        return 0
    index = backbone_names.index(layer_name)
    for stage, start in enumerate(STAGE_STARTS):
        if start in backbone_names and index >= backbone_names.index(start):
            return stage
    return len(STAGE_STARTS)


def staged_variables(model: keras.Model, backbone: keras.Model) -> list[list[tf.Variable]]:
    """The model's trainable variables grouped by stage (index = stage; empty groups kept)."""
    names = [layer.name for layer in backbone.layers]
    groups: list[list[tf.Variable]] = [[] for _ in range(len(STAGE_STARTS) + 1)]
    by_id = {}
    for layer in backbone.layers:
        for v in layer.trainable_weights:
            by_id[id(v)] = stage_of(layer.name, names)
    for v in model.trainable_weights:
        groups[by_id.get(id(v), 0)].append(v)
    return groups


class StagedModel(keras.Model):
    """The regressor's own layers (a functional model over them) whose training step gives each stage its Adam.

    Built as `StagedModel(model.inputs, model.outputs)`, so it shares every weight with `model`; call
    `set_stages` before `fit`.
    """

    def set_stages(self, groups: list[list[tf.Variable]], optimizers: list[keras.optimizers.Optimizer]) -> None:
        kept = [(g, o) for g, o in zip(groups, optimizers, strict=True) if g]
        self.stage_groups = [g for g, _ in kept]
        self.stage_optimizers = [o for _, o in kept]

    def train_step(self, data):
        x, y = data
        variables = [v for group in self.stage_groups for v in group]
        with tf.GradientTape() as tape:
            pred = self(x, training=True)
            loss = self.compiled_loss(y, pred, regularization_losses=self.losses)
        grads = tape.gradient(loss, variables)
        start = 0
        for group, optimizer in zip(self.stage_groups, self.stage_optimizers, strict=True):
            optimizer.apply_gradients(zip(grads[start : start + len(group)], group, strict=True))
            start += len(group)
        return {"loss": loss}


def staged_optimizers(schedule: str, lr: float, decay: float, total_steps: int, warmup_steps: int,
                      stages: int) -> list[keras.optimizers.Optimizer]:
    """One Adam per stage, stage s at lr * decay**s, all on the same schedule shape."""
    return [keras.optimizers.Adam(learning_rate=learning_rate(schedule, lr * decay**s, total_steps, warmup_steps))
            for s in range(stages)]
