"""Train for real (tiny: 64 px, one or two epochs per phase, random init) through the CLI and the API."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from iqlite.training import cli
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.evaluate import predict_scores
from iqlite.training.regressor.model import load_model
from iqlite.training.regressor.model_spec import ModelSpec
from iqlite.training.regressor.train import RunMismatchError, TrainingRun
from tests.conftest import make_rated_folder, make_small_sets, train_interrupted_after_first_epoch

SMOKE_ARGS = ["--smoke", "--weights", "none", "--no-progress"]


@pytest.mark.slow
def test_cli_trains_and_writes_every_artifact(rated_folder, tmp_path, capsys):
    table, images = rated_folder
    (images / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with table.open("a") as f:
        f.write("corrupt.jpg,50\n")
    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(out), *SMOKE_ARGS])
    assert code == 0
    for name in ("model.keras", "metrics.json", "history.csv", "skipped.csv", "split.csv", "config.json",
                 "ratings_summary.json", "validation/scatter.png", "validation/histogram.png",
                 "validation/predictions.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("srcc", "plcc", "krcc", "rmse", "mae", "auc_good", "predicted_spread"):
        assert key in metrics["validation"]
    assert metrics["images"]["skipped"] == 1 and metrics["images"]["used"] == 12
    assert "corrupt.jpg" in (out / "skipped.csv").read_text()
    assert "skipped 1 image" in capsys.readouterr().out
    history = (out / "history.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in history[1:]] == [["head", "1"], ["fine_tune", "1"]]

    model = load_model(out / "model.keras")
    x = np.random.default_rng(0).integers(0, 256, size=(2, 64, 64, 3)).astype(np.float32)
    scores = np.asarray(model(x)).ravel()
    assert np.all((scores >= 0) & (scores <= 5))


def test_cli_errors_are_one_clear_message(rated_folder, tmp_path, capsys):
    table, images = rated_folder
    bad = tmp_path / "bad.csv"
    bad.write_text("image,mos\np00.png,50\np01.jpg,150\n")
    code = cli.main(["train", "--data", str(bad), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(tmp_path / "r"), *SMOKE_ARGS])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.csv" in err and "row 3" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        cli.main(["train", "--data", str(table), "--out", str(tmp_path / "r")])  # no --score-range
    assert "--score-range" in capsys.readouterr().err


#: Resuming and refusing a run do not depend on the architecture: a MobileNetV2 cut after block 5 trains in
#: a third of the time of the default one (which the CLI tests above and test_fine_tune_recipe's staged resume train).
TINY = ModelSpec(cut_layer="block_5_add", taps=("block_2_add",))


def _config() -> TrainConfig:
    return TrainConfig.smoke(weights="none", fine_tune_epochs=3, patience=5, model=TINY)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One uninterrupted run of `_config()` on the small sets: the reference of the resume test, and the finished
    run folder the refusal test points a different recipe at. Its folder is never written to after this."""
    root = tmp_path_factory.mktemp("reference")
    train, val = make_small_sets(*make_rated_folder(root))
    model = TrainingRun(_config(), train, val, root / "ref", verbose=0).fit()
    return root / "ref", model


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_last_epoch(small_sets, reference_run, tmp_path, monkeypatch):
    train, val = small_sets
    config = _config()
    ref_dir, reference = reference_run

    run_dir = tmp_path / "run"
    train_interrupted_after_first_epoch(config, train, val, run_dir, monkeypatch)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["phase"] == "fine_tune" and state["epochs_done"] == 1
    assert not (run_dir / "model.keras").exists()

    logs: list[str] = []
    resumed = TrainingRun(config, train, val, run_dir, verbose=0, log=logs.append).fit()
    assert any("resuming" in line for line in logs)
    assert any("epochs 2..3" in line for line in logs)
    history = json.loads((run_dir / "state.json").read_text())["history"]
    assert [(h["phase"], h["epoch"]) for h in history] == [("head", 1), ("fine_tune", 1), ("fine_tune", 2),
                                                            ("fine_tune", 3)]
    ref_history = json.loads((ref_dir / "state.json").read_text())["history"]
    # everything before the interruption is bit-for-bit the uninterrupted run (seeded and deterministic)
    assert [h["loss"] for h in history[:2]] == pytest.approx([h["loss"] for h in ref_history[:2]], rel=1e-5)
    scores = predict_scores(resumed, val.images)
    ref_scores = predict_scores(reference, val.images)
    assert np.all((scores >= 0) & (scores <= 5)) and scores.shape == ref_scores.shape


@pytest.mark.slow
def test_run_folder_refuses_a_different_recipe(small_sets, reference_run):
    train, val = small_sets
    ref_dir, _ = reference_run
    assert json.loads((ref_dir / "state.json").read_text())["phase"] == "done"
    with pytest.raises(RunMismatchError, match="different configuration"):
        TrainingRun(replace(_config(), seed=7), train, val, ref_dir, verbose=0)


@pytest.mark.slow
def test_main_job_without_data_trains_on_the_embedded_sample_set(tmp_path, capsys):
    out = tmp_path / "demo"
    # --batch-size 32: the head phase scores ~1,400 photos and mirrors, and eager Keras costs ~0.1 s a call
    # whatever the batch; at the smoke recipe's 4 a call that was a minute of this test
    assert cli.main(["train", "--out", str(out), *SMOKE_ARGS, "--batch-size", "32"]) == 0
    printed = capsys.readouterr().out
    assert "embedded sample set" in printed and "votes per image min 30" in printed
    summary = json.loads((out / "ratings_summary.json").read_text())
    assert summary["kind"] == "votes" and summary["votes"]["min"] == 30
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"]["skipped"] == 0 and metrics["images"]["used"] > 100
    split = (out / "split.csv").read_text().splitlines()[1:]
    ladders, val_scenes = {}, set()
    for line in split:
        image, subset = line.split(",")
        ladders.setdefault(image.rsplit("_", 1)[0], set()).add(subset)  # <scene>__<distortion>
        if subset == "validation":
            val_scenes.add(image.split("__")[0])
    assert all(len(subsets) == 1 for subsets in ladders.values()), "a distortion ladder was split across subsets"
    assert len(val_scenes) >= 3, f"validation photos come from only {sorted(val_scenes)}"
    assert "spread calibration on" in printed
