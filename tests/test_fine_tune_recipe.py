"""Phase-2 levers: metric-shaped losses, learning-rate schedule and stages, label-free ranking pre-training."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.fine_tune_optim import STAGE_STARTS, learning_rate, stage_of
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.losses import make_loss, pairwise_rank_hinge, plcc_loss
from iqlite.training.regressor.model import backbone_of, build_model, restore_checkpoint
from iqlite.training.regressor.model_spec import ModelSpec
from iqlite.training.regressor.rank_pretrain import LadderPairs, PretrainConfig, ladder_rank_loss, pretrain_backbone
from iqlite.training.regressor.train import TrainingRun
from tests.conftest import train_interrupted_after_first_epoch


def _t(values) -> tf.Tensor:
    return tf.constant(np.asarray(values, np.float32).reshape(-1, 1))


def test_rank_hinge_is_zero_for_a_clear_right_order_and_grows_with_wrong_pairs():
    y = _t([1.0, 2.0, 3.0, 4.0])
    assert float(pairwise_rank_hinge(y, _t([0.5, 1.5, 2.5, 3.5]))) == pytest.approx(0.0)
    one_swap = float(pairwise_rank_hinge(y, _t([1.5, 0.5, 2.5, 3.5])))
    reversed_ = float(pairwise_rank_hinge(y, _t([3.5, 2.5, 1.5, 0.5])))
    assert 0 < one_swap < reversed_
    # a pair tied in human score says nothing about order
    assert float(pairwise_rank_hinge(_t([2.0, 2.0]), _t([0.0, 5.0]))) == pytest.approx(0.0)


def test_plcc_loss_ignores_scale_and_offset_but_not_order():
    y = _t([1.0, 2.0, 4.0, 3.0])
    assert float(plcc_loss(y, y * 0.1 + 2.0)) == pytest.approx(0.0, abs=1e-5)
    assert float(plcc_loss(y, -y)) == pytest.approx(2.0, abs=1e-5)
    assert float(make_loss("plcc+rank")(y, y)) == pytest.approx(0.0, abs=1e-5)
    assert float(make_loss("mse+rank")(y, y + 1.0)) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


def test_cosine_schedule_warms_up_then_decays_to_zero():
    schedule = learning_rate("cosine", 1e-3, total_steps=100, warmup_steps=10)
    assert float(schedule(0)) < 1e-4
    assert float(schedule(10)) == pytest.approx(1e-3, rel=1e-3)
    assert float(schedule(55)) == pytest.approx(5e-4, rel=0.05)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-8)
    assert learning_rate("constant", 1e-3, 100, 10) == 1e-3


def test_stages_follow_the_mobilenet_resolution_steps():
    names = [layer.name for layer in backbone_of(build_model(ModelSpec(), None)).layers]
    assert stage_of("block_15_add", names) == 0 and stage_of(STAGE_STARTS[0], names) == 0
    assert stage_of("block_12_add", names) == 1
    assert stage_of("block_4_add", names) == 2
    assert stage_of("block_1_expand", names) == 3 and stage_of("Conv1", names) == 3
    assert stage_of("quality_logit", names) == 0  # the head trains at the top rate


def _weights_by_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [w.copy() for w in layer.get_weights()] for layer in backbone_of(model).layers
            if layer.weights}


@pytest.mark.slow
def test_zero_stage_decay_trains_only_the_top_stage(small_sets, tmp_path, monkeypatch):
    """lr_stage_decay 0 gives every lower stage a learning rate of 0: only blocks 13-16 and the head move."""
    train, val = small_sets
    config = TrainConfig.smoke(weights="none", fine_tune_from="block_1_expand", lr_stage_decay=0.0,
                               fine_tune_schedule="cosine", warmup_epochs=1, fine_tune_epochs=2, patience=5,
                               loss="mse+rank")
    start = {}
    original = TrainingRun._fine_tune

    def remember_start(self, model):
        start.update(_weights_by_layer(model))
        original(self, model)

    monkeypatch.setattr(TrainingRun, "_fine_tune", remember_start)
    run = TrainingRun(config, train, val, tmp_path / "run", verbose=0)
    model = run.fit()
    last = tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints" / "fine_tune"))
    restore_checkpoint(tf.train.Checkpoint(model=model), last)  # the last epoch, whichever epoch was best
    end = _weights_by_layer(model)
    moved = {name for name in end
             if any(not np.array_equal(a, b) for a, b in zip(start[name], end[name], strict=True))}
    assert "block_2_expand" not in moved and "block_10_expand" not in moved
    assert "block_14_expand" in moved


@pytest.mark.slow
def test_scheduled_staged_run_resumes_on_the_same_curve(small_sets, tmp_path, monkeypatch):
    train, val = small_sets
    config = TrainConfig.smoke(weights="none", fine_tune_from="block_6_expand", lr_stage_decay=0.5,
                               fine_tune_schedule="cosine", warmup_epochs=1, fine_tune_epochs=3, patience=5)
    run_dir = tmp_path / "run"
    train_interrupted_after_first_epoch(config, train, val, run_dir, monkeypatch)
    TrainingRun(config, train, val, run_dir, verbose=0).fit()
    state = json.loads((run_dir / "state.json").read_text())
    assert [h["epoch"] for h in state["history"] if h["phase"] == "fine_tune"] == [1, 2, 3]
    steps_per_epoch = int(np.ceil(len(train) / config.batch_size))
    last = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "fine_tune"))
    reader = tf.train.load_checkpoint(last)
    counters = [int(reader.get_tensor(f"optimizers/{i}/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) for i in range(4)]
    # the step counters that drive the schedule continued across the interruption: the top stage and the one
    # below it (blocks 6-12) took every step; the two lowest stages are frozen and have no variables
    assert counters == [3 * steps_per_epoch, 3 * steps_per_epoch, 0, 0]


def test_ladder_batches_pair_versions_of_one_photo_and_are_reproducible():
    photos = np.random.default_rng(0).integers(0, 256, size=(6, 48, 48, 3), dtype=np.uint8)
    config = PretrainConfig(steps=3, photos_per_batch=2, versions=3, crop=40)
    x, y = LadderPairs(photos, config)[1]
    assert x.shape == (6, 40, 40, 3) and y.shape == (6, 2)
    assert sorted(set(y[:, 0])) == [0, 1]
    for slot in (0, 1):
        levels = y[y[:, 0] == slot, 1]
        assert len(set(levels)) == 3 and np.all(np.diff(levels) > 0)
    x2, y2 = LadderPairs(photos, config)[1]
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_ladder_loss_counts_only_pairs_within_one_photo():
    y = tf.constant([[0, 0], [0, 2], [1, 0], [1, 3]], tf.float32)
    right = tf.constant([[5.0], [1.0], [-5.0], [-9.0]])  # photo 1 is far below photo 0: not a pair
    assert float(ladder_rank_loss(y, right)) == pytest.approx(0.0)
    wrong = tf.constant([[1.0], [5.0], [0.0], [0.0]])
    assert float(ladder_rank_loss(y, wrong)) == pytest.approx((5.0 + 1.0) / 2)


@pytest.mark.slow
def test_rank_pretraining_learns_the_ladder_order_and_saves_loadable_weights(tmp_path):
    rng = np.random.default_rng(0)
    photos = rng.integers(0, 256, size=(8, 8, 8, 3), dtype=np.uint8).repeat(8, 1).repeat(8, 2)
    out = tmp_path / "ranked.h5"
    # a backbone cut after block 9 (the command-line test below pre-trains the default one): faster, and its
    # layers past the cut must still reach the .h5 that the default model loads
    spec = ModelSpec(cut_layer="block_9_add", taps=("block_5_add",))
    summary = pretrain_backbone(photos, out, PretrainConfig(steps=30, crop=56, warmup_steps=2, lr=1e-3), spec=spec,
                                weights=None, log=lambda _: None)
    # from random weights 30 steps do not get far, but they must move the order the right way
    assert summary["pair_accuracy_after"] >= summary["pair_accuracy_before"] + 0.05
    restored = build_model(ModelSpec(), str(out))
    config = replace(TrainConfig.smoke(), weights=str(out))
    assert config.weights == str(out) and backbone_of(restored).get_layer("block_3_expand").weights


def test_a_recipe_with_an_unknown_phase_2_setting_is_refused_before_training():
    from iqlite.training.core.errors import InputError

    for bad in ({"loss": "hinge"}, {"fine_tune_schedule": "step"}, {"fine_tune_bn": "train"},
                {"lr_stage_decay": 2.0}):
        with pytest.raises(InputError, match=next(iter(bad)).replace("_", "-")):
            TrainConfig(**bad)


@pytest.mark.slow
def test_select_last_keeps_the_final_epoch_whatever_validation_says(small_sets, tmp_path):
    train, val = small_sets
    # which epoch is kept does not depend on the architecture: a MobileNetV2 cut after block 5 trains in a third
    # of the time (the default one trains in the stage tests above)
    tiny = ModelSpec(cut_layer="block_5_add", taps=("block_2_add",))
    config = TrainConfig.smoke(weights="none", fine_tune_epochs=3, patience=1, select_epoch="last", model=tiny)
    logs: list[str] = []
    run = TrainingRun(config, train, val, tmp_path / "run", verbose=0, log=logs.append)
    run.fit()
    # patience 1 would stop a "best" run after one epoch without a better SRCC; "last" runs every epoch
    assert run.state.best_epoch == "fine_tune:3"
    assert [h["epoch"] for h in run.state.history if h["phase"] == "fine_tune"] == [1, 2, 3]
    assert any("kept epoch fine_tune:3 (the last one)" in line for line in logs)


@pytest.mark.slow
def test_rank_pretrain_cli_writes_weights_that_train_accepts(rated_folder, tmp_path, capsys):
    from iqlite.training import cli

    table, images = rated_folder
    (images / "notes.txt").write_text("not a photo")
    out = tmp_path / "ranked.h5"
    code = cli.main(["rank-pretrain", "--images", str(images), "--out", str(out), "--steps", "3",
                     "--image-size", "64", "--weights", "none", "--no-progress"])
    assert code == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "skipped" in printed and "notes.txt" in printed and "12 photos" in printed
    # the weights are read when the model is built; the head phase trains on their features (phase 2 would
    # only repeat what test_train_end_to_end runs)
    code = cli.main(["train", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(tmp_path / "run"), "--smoke", "--weights", str(out), "--no-progress",
                     "--fine-tune-epochs", "0"])
    assert code == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["weights"] == str(out)


def test_rank_pretrain_cli_refuses_a_weights_name_train_cannot_read(tmp_path, capsys):
    from iqlite.training import cli

    with pytest.raises(SystemExit):
        cli.main(["rank-pretrain", "--images", str(tmp_path), "--out", str(tmp_path / "w.keras")])
    assert ".h5" in capsys.readouterr().err
