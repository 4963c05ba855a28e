"""The perceptual distance: tiles, versions, 2AFC agreement, the fit, the int8 export and its runtime.

The TensorFlow parts use a MobileNetV2 with random weights and 64 px tiles (no pretrained weights, seconds
to convert); what they check does not depend on the weights: identical photos give exactly zero, raw-pixel
inputs, a stronger distortion gives a larger distance, error rows, the calibration read from the metadata.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iqlite.perceptual.agreement import agreement, clear_pairs, srcc
from iqlite.perceptual.calibration import quality_of
from iqlite.perceptual.tiles import tile_origins, tiles
from iqlite.perceptual.versions import distortion_versions, ladder_versions, make_version
from iqlite.training.core.errors import InputError
from iqlite.training.perceptual.fit import calibration_knots, fit_distance
from iqlite.training.perceptual.pair_data import PairData, is_test_source
from tests.conftest import textured_photo

CHANNELS = [3, 16, 48, 48, 96, 144, 192]
TILE = 64


def photo(seed: int = 0, size: tuple[int, int] = (150, 110)) -> np.ndarray:
    return np.asarray(textured_photo(seed, 160).resize(size, Image.BILINEAR))


# ------------------------------------------------------------------------------------------ TensorFlow-free

def test_tiles_cover_the_photo_edge_to_edge_and_pad_small_sides_by_mirroring() -> None:
    assert tile_origins(500, 256) == [0, 244]
    assert tile_origins(256, 256) == [0] and tile_origins(100, 256) == [0]
    assert tile_origins(768, 256) == [0, 256, 512]
    rgb = photo(size=(150, 40))
    cut = tiles(rgb, 64)
    assert cut.shape == (3, 64, 64, 3) and cut.dtype == np.uint8
    assert np.array_equal(cut[0, :40, :], rgb[:40, :64])
    assert np.array_equal(cut[0, 40:64], rgb[::-1][:24, :64])  # mirrored rows below the photo


def test_versions_are_deterministic_same_size_and_graded() -> None:
    assert len(ladder_versions()) == 55 and len(distortion_versions()) == 28
    rgb = photo(1)
    for version in ladder_versions()[::11] + distortion_versions()[::5]:
        first, second = make_version(rgb, version, seed=3), make_version(rgb, version, seed=3)
        assert first.shape == rgb.shape and first.dtype == np.uint8 and np.array_equal(first, second)
    jpeg = {v.name: v for v in ladder_versions()}
    error = [np.abs(make_version(rgb, jpeg[f"jpeg q{q} 420 prog"]).astype(int) - rgb).mean() for q in (20, 60, 98)]
    assert error[0] > error[1] > error[2]


def test_clear_pairs_stay_within_a_source_and_agreement_counts_ties_half() -> None:
    sources = np.array(["a", "a", "a", "b", "b"])
    truth = np.array([90.0, 80.0, 88.5, 50.0, 20.0])
    pairs = clear_pairs(sources, truth, gap=3.0)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (2, 1), (3, 4)]
    assert agreement(np.array([1.0, 2.0, 1.5, 0.0, 0.0]), pairs, higher_is_better=False) == pytest.approx(5 / 6)
    assert srcc(-truth, truth, higher_is_better=False) == pytest.approx(1.0)


def test_the_held_out_split_is_a_fixed_fifth_of_the_sources() -> None:
    names = [f"{i}.jpg" for i in range(2000)]
    share = np.mean([is_test_source(n) for n in names])
    assert 0.17 < share < 0.23 and is_test_source("1000.jpg") == is_test_source("1000.jpg")


def synthetic_pairs(seed: int, sources: int = 30, versions: int = 12) -> tuple[PairData, np.ndarray]:
    """Statistics with a known non-negative weighting behind the truth; channel 5 is dead (always ~0)."""
    rng = np.random.default_rng(seed)
    total = sum(CHANNELS)
    w = np.zeros(total)
    w[rng.choice(total, 40, replace=False)] = rng.uniform(0.5, 2.0, 40)
    rows = sources * versions
    severity = rng.uniform(0.0, 1.0, rows)
    l1 = rng.gamma(2.0, 1.0, (rows, total)) * severity[:, None]
    l1[:, 5] = 1e-9
    truth = 100.0 - 60 * (l1 @ w) / (np.mean(l1 @ w) + 1e-9) * 0.5
    data = PairData(sources=np.repeat([f"s{i}" for i in range(sources)], versions).astype(object),
                    names=np.array([f"v{i % versions}" for i in range(rows)]), families=np.array(["x"] * rows),
                    ssimulacra2=truth, psnr=np.zeros(rows), ssim=np.zeros(rows),
                    statistics=np.concatenate([l1, l1**2], axis=1).astype(np.float32), channels=CHANNELS)
    return data, w


def test_the_fit_finds_a_weighting_that_ranks_held_out_versions_like_the_truth() -> None:
    train, _ = synthetic_pairs(0)
    test, _ = synthetic_pairs(1)
    fit = fit_distance(train, ranking=1.0)
    assert min(fit.weights) >= 0.0 and fit.weights[5] == 0.0  # non-negative; the dead channel left out
    distance = fit.distance(test.statistics)
    pairs = clear_pairs(test.sources, test.ssimulacra2)
    assert agreement(distance, pairs, higher_is_better=False) > 0.95
    assert srcc(fit.quality(distance), test.ssimulacra2, higher_is_better=True) > 0.95
    assert fit.quality(np.array([0.0]))[0] == 100.0
    assert np.all(np.diff(fit.knots_quality) < 0) and np.all(np.diff(fit.knots_distance) > 0)


def test_calibration_is_monotone_and_extends_past_the_last_knot() -> None:
    distance = np.linspace(0.0, 50.0, 200)
    knots_d, knots_q = calibration_knots(distance, 100.0 - 1.5 * distance)
    q = quality_of(np.array([0.0, 25.0, 50.0, 80.0]), knots_d, knots_q)
    assert q[0] == 100.0 and q[1] == pytest.approx(62.5, abs=1.0) and q[3] < q[2]


# ------------------------------------------------------------------------------------ the int8 model (TF)

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An int8 distance model on a random-weight backbone with 64 px tiles, exported like the shipped one."""
    from iqlite.export.compact import compact_tflite
    from iqlite.export.distance_export import distance_info, quantize_distance
    from iqlite.export.metadata import embed_metadata
    from iqlite.training.perceptual.distance_model import build_distance_model
    from iqlite.training.perceptual.fit import DistanceFit

    rng = np.random.default_rng(0)
    weights = rng.uniform(0.0, 1.0, sum(CHANNELS))
    fit = DistanceFit(statistic="l1", channels=CHANNELS, scales=[1.0] * sum(CHANNELS), weights=weights.tolist(),
                      knots_distance=[0.0, 1.0, 1000.0], knots_quality=[100.0, 90.0, 0.0], ranking=1.0, ridge=0.0)
    model = build_distance_model(fit, weights=None, tile=TILE)
    representative = []
    for seed in range(6):
        ref = tiles(photo(seed, (TILE, TILE)), TILE)[0]
        noisy = np.clip(ref.astype(int) + rng.normal(0, 5 + 10 * seed, ref.shape), 0, 255).astype(np.uint8)
        representative.append(np.stack([ref, noisy]))
    content = quantize_distance(model, np.stack(representative))
    path = tmp_path_factory.mktemp("distance") / "tiny_distance.tflite"
    path.write_bytes(compact_tflite(embed_metadata(content, distance_info(fit, {}))))
    return path


def noised(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rgb.astype(float) + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def test_the_int8_model_reads_raw_pixels_and_names_its_tensors(tiny_model: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from iqlite.export.metadata import read_metadata

    interpreter = Interpreter(model_path=str(tiny_model))
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    assert set(inputs) == {"reference", "distorted"}
    assert all(d["dtype"] == np.uint8 and d["quantization"] == (1.0, 0) for d in inputs.values())
    assert {d["name"] for d in interpreter.get_output_details()} == {"distance", "distance_map"}
    meta = read_metadata(tiny_model.read_bytes())
    assert [t["name"] for t in meta["subgraphs"][0]["inputs"]] == ["reference", "distorted"]
    score = meta["custom_metadata"]["iqlite"]["score"]
    assert score["higher_is_better"] is False and score["quality_calibration"]["quality"][0] == 100.0


def test_identical_photos_are_at_distance_zero_and_stronger_noise_is_farther(tiny_model: Path) -> None:
    from iqlite.export.distance import DistanceScorer

    scorer = DistanceScorer(tiny_model)
    rgb = photo(2)
    assert scorer.score(rgb, rgb) == (0.0, 100.0)
    mild, strong = scorer.distance(rgb, noised(rgb, 4)), scorer.distance(rgb, noised(rgb, 40))
    assert 0.0 < mild < strong
    assert scorer.quality(strong) < scorer.quality(mild) < 100.0
    uniform = np.ones(rgb.shape[:2])
    assert scorer.distance(rgb, noised(rgb, 40), saliency=uniform) == pytest.approx(strong, rel=1e-6)
    with pytest.raises(InputError, match="differs from the reference"):
        scorer.distance(rgb, rgb[:-1])


def test_saliency_weighting_counts_damage_on_the_subject_more(tiny_model: Path) -> None:
    from iqlite.export.distance import DistanceScorer

    scorer = DistanceScorer(tiny_model)
    rgb = photo(3, (128, 128))
    left_damaged = rgb.copy()
    left_damaged[:, :64] = noised(rgb, 40)[:, :64]
    subject_left = np.zeros((128, 128))
    subject_left[:, :64] = 1.0
    subject_right = 1.0 - subject_left
    on_subject = scorer.distance(rgb, left_damaged, saliency=subject_left)
    off_subject = scorer.distance(rgb, left_damaged, saliency=subject_right)
    assert on_subject > 2 * off_subject


def test_export_distance_writes_a_row_per_file_with_error_rows(tiny_model: Path, tmp_path: Path) -> None:
    from iqlite.export import cli as export_cli

    rgb = photo(4)
    Image.fromarray(rgb).save(tmp_path / "ref.png")
    Image.fromarray(noised(rgb, 10)).save(tmp_path / "noisy.png")
    Image.fromarray(rgb).save(tmp_path / "same.png")
    Image.fromarray(rgb[:50]).save(tmp_path / "cropped.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "d.csv"
    names = ["noisy.png", "same.png", "cropped.png", "broken.jpg"]
    status = export_cli.main(["distance", "--ref", str(tmp_path / "ref.png"), "--out", str(out), "--model",
                              str(tiny_model), "--saliency", *[str(tmp_path / n) for n in names]])
    assert status == 0
    with open(out, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [Path(r["path"]).name for r in rows] == names
    noisy, same, cropped, broken = rows
    assert float(noisy["distance"]) > 0 and float(noisy["quality"]) < 100 and not noisy["error"]
    assert float(same["distance"]) == 0 and float(same["quality"]) == 100
    assert "differs from the reference" in cropped["error"] and not cropped["distance"]
    assert broken["error"] and not broken["quality"]


def test_export_distance_refuses_an_unreadable_reference(tiny_model: Path, tmp_path: Path) -> None:
    from iqlite.export.distance import distance_rows

    (tmp_path / "ref.png").write_bytes(b"nope")
    with pytest.raises(InputError, match="--ref"):
        distance_rows(tmp_path / "ref.png", [tmp_path / "ref.png"], model_path=tiny_model)


def test_optimize_with_the_iqlite_metric_meets_the_target_by_that_metric(tiny_model: Path, tmp_path: Path) -> None:
    from iqlite.compression.codecs import decode
    from iqlite.export import cli as export_cli
    from iqlite.export.distance import DistanceScorer
    from iqlite.export.optimize import CSV_COLUMNS, CSV_NAME

    rgb = photo(5, (160, 120))
    Image.fromarray(rgb).save(tmp_path / "p.png")
    status = export_cli.main(["optimize", str(tmp_path / "p.png"), "--out", str(tmp_path / "out"), "--search",
                              "bisect", "--metric", "iqlite", "--distance-model", str(tiny_model), "--target", "80",
                              "--workers", "1", "--no-progress"])
    assert status == 0
    with open(tmp_path / "out" / CSV_NAME, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        (row,) = list(reader)
    assert row["ssimulacra2"] == "" and not row["error"]
    scorer = DistanceScorer(tiny_model)
    written = decode((tmp_path / "out" / row["output"]).read_bytes())[..., :3]
    quality = scorer.quality(scorer.distance(rgb, written))
    assert quality == pytest.approx(float(row["iqlite_quality"]), abs=0.01) and quality >= 80


def test_export_score_points_a_distance_model_to_export_distance(tiny_model: Path) -> None:
    from iqlite.export.model_file import ModelFileError
    from iqlite.export.tflite_runner import TFLiteScorer

    with pytest.raises(ModelFileError, match="export distance"):
        TFLiteScorer(tiny_model)
