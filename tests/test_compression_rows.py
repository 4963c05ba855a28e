"""Compression-aware training rows: derived scores, source matching, per-epoch draws, and a real training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from iqlite.compression.ladder_run import run_ladders
from iqlite.training import cli
from iqlite.training.core.errors import InputError
from iqlite.training.data.compression_rows import (
    TRAINING_SETTINGS,
    DerivedTargets,
    compression_rows,
    ladder_scores,
    match_sources,
)
from iqlite.training.data.dataset import ImageSet, load_image_set
from iqlite.training.data.rating_tables import read_ratings
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.losses import ROLE_PAIR_PHOTO, ROLE_PAIR_VERSION, ROLE_RATED
from iqlite.training.regressor.model_spec import ModelSpec
from iqlite.training.regressor.train import CropFlipBatches
from tests.conftest import make_rated_folder


@pytest.fixture(scope="module")
def rated_ladder(tmp_path_factory):
    """The rated folder and a real JPEG ladder table of four of its photos (SSIMULACRA 2 measured); made once,
    only read by the tests (they write their runs into their own tmp_path)."""
    root = tmp_path_factory.mktemp("rated_ladder")
    table, images = make_rated_folder(root)
    out = root / "ladders"
    run_ladders([images], out, formats=("jpeg",), sample=4, progress=False)
    return table, images, out / "ladders.csv"


def test_a_version_loses_kappa_stars_per_point_below_the_knee_and_stays_on_the_scale():
    targets = DerivedTargets(kappa=0.03, knee=90.0)
    assert targets.score(4.0, [95.0, 90.0, 80.0, 30.0]).tolist() == pytest.approx([4.0, 4.0, 3.7, 2.2])
    assert targets.score(0.5, 10.0) == 0.0  # clipped to the 0-5 scale
    assert DerivedTargets(kappa=0.0).score(3.0, 10.0) == 3.0


def test_ladder_sources_match_table_entries_by_their_path_tail():
    names = ["images/a.jpg", "images/b.webp", "other/c.png"]
    assert match_sources(["a.jpg", "images/b.webp", "zzz.png"], names) == {"a.jpg": 0, "images/b.webp": 1}
    with pytest.raises(InputError, match="matches 2 rated images"):
        match_sources(["a.jpg"], ["x/a.jpg", "y/a.jpg"])


def test_unknown_settings_and_empty_ladders_are_named(rated_ladder):
    _, _, ladders = rated_ladder
    with pytest.raises(InputError, match="unknown ladder setting"):
        ladder_scores(ladders, ["jpeg q21 420 prog"])
    with pytest.raises(InputError, match="no ladder rows"):
        ladder_scores(ladders, ["avif q20 s6"])  # a JPEG-only ladder


def test_rows_are_the_ladder_versions_of_rated_photos_with_derived_scores(rated_ladder):
    table, images, ladders = rated_ladder
    photos, _ = load_image_set(read_ratings(table, (0, 100)), images, 64, progress=False)
    rows = compression_rows(photos, images, ladders, DerivedTargets(kappa=0.05), 64, workers=1, progress=False)
    jpeg_settings = [s for s in TRAINING_SETTINGS if s.startswith("jpeg")]
    assert len(rows) == 4 * len(jpeg_settings) and rows.images.shape == (len(rows), 64, 64, 3)
    s2 = ladder_scores(ladders, jpeg_settings)
    for name, score, group in zip(rows.names, rows.scores, rows.groups, strict=True):
        source, setting = name.split("@")
        assert group == source  # versions follow their photo through any split
        expected = DerivedTargets(kappa=0.05).score(photos.scores[photos.names.index(source)], s2[source][setting])
        assert score == pytest.approx(float(expected), abs=1e-5)
    # heavier JPEG, lower SSIMULACRA 2, lower score: q20 below q90 for every photo
    for source in {g for g in rows.groups}:
        by_setting = {n.split("@")[1]: s for n, s in zip(rows.names, rows.scores, strict=True) if n.startswith(source)}
        assert by_setting["jpeg q20 420 prog"] < by_setting["jpeg q90 420 prog"]
    # versions are what the codec makes: a q20 version differs from its photo, blockier than q90
    i20, i90 = rows.names.index(f"{source}@jpeg q20 420 prog"), rows.names.index(f"{source}@jpeg q90 420 prog")
    original = photos.images[photos.names.index(source)].astype(float)
    assert np.abs(rows.images[i20] - original).mean() > np.abs(rows.images[i90] - original).mean()


def test_each_epoch_draws_the_same_number_of_versions_per_photo_afresh():
    rng = np.random.default_rng(0)
    photos = ImageSet(rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), np.linspace(1, 4, 6).astype(np.float32),
                      [f"p{i}" for i in range(6)], [None] * 6)
    extra = ImageSet(rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20, dtype=np.float32) / 4,
                     [f"v{i}" for i in range(20)], [f"p{i % 4}" for i in range(20)])
    batches = CropFlipBatches(photos, 4, 1.0, seed=0, extra=extra, extra_per_group=2)
    assert len(batches) == 4  # (6 photos + 4 photos x 2 versions) / 4
    draws = [batches.extra_rows(e) for e in range(3)]
    for drawn in draws:
        assert sorted(np.bincount([i % 4 for i in drawn]).tolist()) == [2, 2, 2, 2]
    assert any(set(draws[0]) != set(d) for d in draws[1:])
    seen = np.concatenate([batches[i][1].ravel() for i in range(len(batches))])
    expected = np.concatenate([photos.scores, extra.scores[draws[0]]])
    assert sorted(seen.tolist()) == pytest.approx(sorted(expected.tolist()))


def test_without_ladders_the_recipe_and_its_fingerprint_are_unchanged():
    plain = TrainConfig()
    assert not any(k.startswith("compression_") for k in plain.to_dict())
    with_ladders = TrainConfig(compression_ladders="l.csv")
    assert with_ladders.to_dict()["compression_kappa"] == 0.03 and with_ladders.compression_loss == "stage"
    assert with_ladders.fingerprint() != plain.fingerprint()
    assert TrainConfig.from_dict(with_ladders.to_dict()) == with_ladders
    with pytest.raises(InputError, match="compression-kappa"):
        TrainConfig(compression_kappa=-1)


@pytest.mark.slow
def test_the_cli_trains_with_ladder_versions_of_its_training_photos(rated_ladder, tmp_path, capsys):
    table, images, ladders = rated_ladder
    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(out), "--smoke", "--weights", "none", "--no-progress",
                     "--compression-ladders", str(ladders), "--compression-kappa", "0.04"])
    assert code == 0
    printed = capsys.readouterr().out
    split = dict(line.split(",") for line in (out / "split.csv").read_text().splitlines()[1:])
    trained_sources = {n for n, subset in split.items() if subset == "training"}
    ladder_sources = {line.split(",")[0] for line in ladders.read_text().splitlines()[1:]}
    versions = len(trained_sources & ladder_sources) * sum(s.startswith("jpeg") for s in TRAINING_SETTINGS)
    assert f"compression-aware: {versions} ladder versions" in printed
    assert "phase compression: epochs 1..1" in printed and "pairs" in printed.split("phase compression")[1]
    assert "ladder versions" not in printed.split("phase fine_tune")[1].split("phase compression")[0]
    config = json.loads((out / "config.json").read_text())
    assert config["compression_ladders"] == str(ladders) and config["compression_kappa"] == 0.04
    assert config["compression_loss"] == "stage"
    assert json.loads((out / "compression_state.json").read_text())["epochs_done"] == 1
    assert len(split) == 12  # versions never enter the split or validation


@pytest.mark.slow
def test_the_joint_pairs_formulation_trains_versions_during_fine_tuning(rated_ladder, tmp_path, capsys):
    formulation = "pairs"  # "targets" shares this path; its batches are checked without training above
    table, images, ladders = rated_ladder
    code = cli.main(["train", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(tmp_path / "run"), "--smoke", "--weights", "none", "--no-progress",
                     "--compression-ladders", str(ladders), "--compression-loss", formulation])
    assert code == 0
    fine_tune = capsys.readouterr().out.split("phase fine_tune")[1]
    assert "ladder versions" in fine_tune and "pairs" in fine_tune
    assert "phase compression" not in fine_tune


@pytest.mark.slow
def test_an_interrupted_compression_stage_resumes_at_its_next_epoch(rated_ladder, tmp_path):
    from dataclasses import replace

    from iqlite.training.regressor.compression_stage import run_compression_stage
    from iqlite.training.regressor.model import build_model

    table, images, ladders = rated_ladder
    photos, _ = load_image_set(read_ratings(table, (0, 100)), images, 64, progress=False)
    extra = compression_rows(photos, images, ladders, DerivedTargets(), 64, as_drops=True, workers=1,
                             progress=False)
    # resuming does not depend on the architecture: a MobileNetV2 cut after block 5 trains in a third of the time
    # (the command-line test above runs the stage on the default one)
    tiny = ModelSpec(cut_layer="block_5_add", taps=("block_2_add",))
    config = replace(TrainConfig.smoke(weights="none", compression_ladders=str(ladders), model=tiny),
                     compression_epochs=2)

    def stop_after_first(epoch: dict) -> None:
        if epoch["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_compression_stage(build_model(config.model, "none"), config, photos, extra, tmp_path, verbose=0,
                              epochs_log=stop_after_first)
    seen = []
    run_compression_stage(build_model(config.model, "none"), config, photos, extra, tmp_path, verbose=0,
                          epochs_log=seen.append)
    assert [e["epoch"] for e in seen] == [2]
    state = json.loads((tmp_path / "compression_state.json").read_text())
    assert state["epochs_done"] == 2 and [e["epoch"] for e in state["history"]] == [1, 2]


def test_a_ladder_of_other_photos_is_refused(rated_folder, tmp_path, capsys):
    table, images = rated_folder
    ladders = tmp_path / "ladders.csv"
    ladders.write_text("source,width,height,format,setting,quality,subsampling,effort,bytes,bpp,ssimulacra2,psnr,"
                       "ssim,error\nelsewhere.png,8,8,jpeg,jpeg q20 420 prog,20,4:2:0,,100,1.0,40.0,30.0,0.9,\n")
    code = cli.main(["train", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                     "--out", str(tmp_path / "run"), "--smoke", "--weights", "none", "--no-progress",
                     "--compression-ladders", str(ladders)])
    assert code != 0
    assert "no source of the ladder table" in capsys.readouterr().err


def test_pair_batches_hold_each_version_beside_the_same_crop_of_its_photo():
    rng = np.random.default_rng(1)
    photos = ImageSet(rng.integers(0, 256, (6, 40, 40, 3), dtype=np.uint8), np.linspace(1, 4, 6).astype(np.float32),
                      [f"p{i}" for i in range(6)], [None] * 6)
    extra = ImageSet(rng.integers(0, 256, (12, 40, 40, 3), dtype=np.uint8), np.arange(12, dtype=np.float32) / 10,
                     [f"p{i % 3}@s{i}" for i in range(12)], [f"p{i % 3}" for i in range(12)])
    batches = CropFlipBatches(photos, 4, 0.8, seed=0, extra=extra, extra_per_group=2, pairs=True)
    assert len(batches) == 2  # rated photos set the steps; the 6 pairs ride along
    drawn = batches.extra_rows(0)
    seen_pairs = 0
    for b in range(len(batches)):
        x, y = batches[b]
        rated = y[:, 1] == ROLE_RATED
        photo_rows = np.flatnonzero(y[:, 1] == ROLE_PAIR_PHOTO)
        version_rows = np.flatnonzero(y[:, 1] == ROLE_PAIR_VERSION)
        assert rated[: rated.sum()].all() and len(photo_rows) == len(version_rows)
        assert set(y[rated, 0]) <= set(photos.scores.tolist())
        for p, v in zip(photo_rows, version_rows, strict=True):
            assert y[p, 0] == y[v, 0]  # the drop, on both rows
            version = int(np.flatnonzero(np.isclose(extra.scores, y[v, 0]))[0])
            photo = photos.images[int(extra.names[version].split("@")[0][1:])].astype(np.float32)
            placed = [(top, left, flip) for top in range(9) for left in range(9) for flip in (False, True)
                      if np.array_equal(x[p], _crop(photo, top, left, flip))]
            assert placed, "the pair's photo row is not a crop of its photo"
            assert any(np.array_equal(x[v], _crop(extra.images[version].astype(np.float32), *where))
                       for where in placed), "the version is not the same crop"
        seen_pairs += len(photo_rows)
    assert seen_pairs == len(drawn) == 6


def _crop(image: np.ndarray, top: int, left: int, flip: bool, side: int = 32) -> np.ndarray:
    patch = image[top : top + side, left : left + side]
    return patch[:, ::-1] if flip else patch


def test_the_pair_loss_is_the_rated_loss_plus_the_drop_error():
    from iqlite.training.regressor.keras_setup import tf
    from iqlite.training.regressor.losses import make_loss, with_ladder_pairs

    y = np.array([[3.0, 0], [2.0, 0], [1.0, 1], [0.5, 1], [1.0, 2], [0.5, 2]], np.float32)
    p = np.array([[3.5], [2.0], [4.0], [3.0], [3.5], [1.0]], np.float32)  # drops 0.5 (want 1.0) and 2.0 (want 0.5)
    loss = with_ladder_pairs(make_loss("mse"), pair_weight=2.0)
    expected = (0.25 + 0.0) / 2 + 2.0 * ((0.5 - 1.0) ** 2 + (2.0 - 0.5) ** 2) / 2
    assert float(loss(tf.constant(y), tf.constant(p))) == pytest.approx(expected, rel=1e-6)
    no_pairs = y[:2]
    assert float(loss(tf.constant(no_pairs), tf.constant(p[:2]))) == pytest.approx(0.125, rel=1e-6)


def test_qat_distils_on_the_ladder_versions_of_a_compression_aware_run(rated_ladder, tmp_path):
    from iqlite.export.qat import QAT_VERSIONS_PER_PHOTO, ladder_versions
    from iqlite.training.core import atomic

    table, images, ladders = rated_ladder
    names = [line.split(",")[0] for line in table.read_text().splitlines()[1:]]
    for run, config in (("plain", TrainConfig.smoke()), ("aware", TrainConfig.smoke(compression_ladders=str(ladders)))):
        atomic.write_json(tmp_path / run / "config.json", config.to_dict())
        atomic.write_csv(tmp_path / run / "split.csv", ["image", "subset"],
                         [(n, "training" if i < 9 else "validation") for i, n in enumerate(names)])
    assert len(ladder_versions(tmp_path / "plain", images, 64, log=lambda _: None)) == 0
    versions = ladder_versions(tmp_path / "aware", images, 64, log=lambda _: None)
    ladder_sources = {line.split(",")[0] for line in ladders.read_text().splitlines()[1:]}
    trained = len(ladder_sources & set(names[:9]))
    assert trained and versions.shape == (trained * QAT_VERSIONS_PER_PHOTO, 64, 64, 3) and versions.dtype == np.uint8
