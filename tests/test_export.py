"""Export stage: Keras run folder -> int8 .tflite -> LiteRT scores, and the score CLI.

The int8 conversion takes ~25 s on 2 cores, so the module converts once (through the CLI, as a user would)
and every test reads that one file. No pretrained weights: the model is randomly initialised, then made
"quantizable" the way a trained network is (see `_make_quantizable`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter
from PIL import ImageFilter
from scipy.stats import spearmanr

from iqlite.export import cli
from iqlite.export.compact import compact_tflite
from iqlite.export.output_range import OutputRangeError, pin_output_range
from iqlite.export.tflite_export import (
    DEFAULT_BUDGET_BYTES,
    ExportBudgetError,
    convert_float,
    convert_int8,
    fixed_size_model,
    load_run,
    raw_outputs,
    representative_images,
    save_tflite,
)
from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.images import load_for_model, resize_for_model
from iqlite.training.core.score_scale import round_half_stars
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.keras_setup import keras
from iqlite.training.regressor.model import (
    ModelSpec,
    backbone_of,
    build_model,
    logit_model,
    pooled_feature_model,
    set_calibration,
    set_linear_head,
)
from tests.conftest import run_export_cli_without_tensorflow, textured_photo

pytestmark = pytest.mark.slow  # every test here converts or trains with TensorFlow

SIZE = 64
REPO = Path(__file__).resolve().parents[1]
TRAINING = [f"p{i:02d}.png" for i in range(32)]  # calibration set; 200 in a real export, 32 keep this fast
VALIDATION = [f"p{i:02d}.jpg" for i in range(32, 36)]


@dataclass
class Exported:
    run: Path
    photos: Path
    int8: Path
    keras_model: keras.Model
    parity_images: np.ndarray  # photos the int8 model was not calibrated on


def _photo(seed: int):
    """A textured 'photo' at 96 px (so loading resizes it), blurred by thirds to spread the scores."""
    img = textured_photo(seed, size=96)
    return img.filter(ImageFilter.GaussianBlur(radius=seed % 3)) if seed % 3 else img


def _make_quantizable(model: keras.Model, images: np.ndarray) -> None:
    """Give a random-init model the statistics of a trained one, so int8 parity means something.

    Random init leaves every BatchNormalization at mean 0, variance 1, so activations shrink about 2x per
    layer (features around 1e-6 at the cut) and every score is 2.5. Setting each BN's statistics from a batch
    of photos (LSUV-style) makes activations O(1) like a trained network's. Deep random layers amplify
    rounding noise far more than trained ones (block_15 features keep only ~0.6 correlation in int8), so the
    linear head reads the two early taps (block_5, block_9) only, along their strongest direction of
    variation (as a trained head leans on strong signals; a random direction drowns in the noise). Its
    standardisation is fitted on the photos as training's ridge head does, and the calibration spreads the
    scores over the star range.
    """
    x = images.astype(np.float32)
    backbone = backbone_of(model)
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [n.momentum for n in norms]
    for n in norms:
        n.momentum = 0.0  # one training-mode pass: moving statistics := this batch's statistics
    backbone(x / 127.5 - 1.0, training=True)
    for n, momentum in zip(norms, saved, strict=True):
        n.momentum = momentum
    features = np.asarray(pooled_feature_model(model)(x))
    mean, variance = features.mean(0), features.var(0)
    early = 2 * sum(model.get_layer(f"mean_pool_{i}").output.shape[-1] for i in range(2))  # [mean_0, std_0, ...]
    standardised = (features[:, :early] - mean[:early]) / np.sqrt(variance[:early] + 1e-12)
    weights = np.zeros(features.shape[1], np.float32)
    weights[:early] = np.linalg.svd(standardised, full_matrices=False)[2][0]  # the strongest direction
    set_linear_head(model, mean, variance, weights, 0.0)
    z = np.asarray(logit_model(model)(x)).ravel()
    slope = 1.5 / float(z.std())
    set_calibration(model, slope, -slope * float(z.mean()))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Exported:
    root = tmp_path_factory.mktemp("export")
    photos = root / "photos"
    photos.mkdir()
    for i, name in enumerate(TRAINING + VALIDATION):
        _photo(i).save(photos / name)
    run = root / "run"
    run.mkdir()
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(), weights="none")
    training_images = np.stack([load_for_model(photos / n, SIZE) for n in TRAINING])
    _make_quantizable(model, training_images)
    model.save(str(run / "model.keras"))
    (run / "config.json").write_text(json.dumps(TrainConfig.smoke(weights="none").to_dict()))
    (run / "split.csv").write_text("image,subset\n" + "".join(f"{n},training\n" for n in TRAINING)
                                   + "".join(f"{n},validation\n" for n in VALIDATION))
    int8 = root / "model.tflite"
    assert cli.main(["tflite", "--model", str(run), "--images", str(photos), "--out", str(int8)]) == 0
    keras_model, config = load_run(run)
    assert config.image_size == SIZE
    parity = [load_for_model(photos / n, SIZE) for n in VALIDATION]
    parity += [resize_for_model(np.asarray(_photo(100 + i)), SIZE) for i in range(6)]
    return Exported(run, photos, int8, keras_model, np.stack(parity))


def _keras_scores(exported: Exported) -> np.ndarray:
    return np.asarray(exported.keras_model(exported.parity_images.astype(np.float32))).ravel()


def test_int8_file_is_within_budget_with_a_fixed_uint8_interface(exported):
    size = exported.int8.stat().st_size
    assert 100_000 < size <= DEFAULT_BUDGET_BYTES
    report = json.loads(Path(f"{exported.int8}.json").read_text())
    assert report["size_bytes"] == size and report["kind"] == "int8"
    assert report["representative_images"] == len(TRAINING)
    interpreter = Interpreter(model_path=str(exported.int8))
    (inp,), (out, flaws) = interpreter.get_input_details(), interpreter.get_output_details()
    assert flaws["name"] == "flaw_statistics" and list(flaws["shape"]) == [1, 5] and flaws["dtype"] == np.uint8
    assert list(inp["shape"]) == [1, SIZE, SIZE, 3] and list(inp["shape_signature"]) == [1, SIZE, SIZE, 3]
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)  # the app feeds raw pixel bytes
    assert out["dtype"] == np.uint8
    scale, zero_point = out["quantization"]
    assert zero_point == 0 and scale == pytest.approx(5 / 255)  # pinned: uint8 255 is exactly 5 stars


def test_int8_scores_track_the_keras_model(exported):
    scorer = TFLiteScorer(exported.int8)
    int8 = np.array([scorer.score_array(image) for image in exported.parity_images])
    reference = _keras_scores(exported)
    assert reference.max() - reference.min() > 2.0  # a spread worth ranking, not a constant
    assert np.all((int8 >= 0) & (int8 <= 5))
    # Measured on 30 such photos: SRCC 0.994, mean difference 0.08, max 0.25 stars. A wrongly fed input,
    # dequantization or calibration set misses these by a wide margin.
    assert spearmanr(int8, reference)[0] > 0.95, (int8, reference)
    assert np.abs(int8 - reference).max() < 0.5, (int8, reference)


def test_raw_output_is_the_quantized_score(exported):
    scorer = TFLiteScorer(exported.int8)
    for image in exported.parity_images[:3]:
        raw = scorer.raw_output(image)
        assert isinstance(raw, int) and 0 <= raw <= 255
        assert scorer.score_array(image) == pytest.approx(raw * 5 / 255)


def test_float_tflite_runs_like_keras(tmp_path):
    """convert_float and the scorer's float path, on a model small enough to convert in a second or two."""
    image = keras.Input(shape=(8, 8, 3), batch_size=1)
    mean = keras.layers.GlobalAveragePooling2D()(image)
    brightness = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(5 / 255 / 3))(mean)
    model = keras.Model(image, brightness)  # 5 stars for white, 0 for black
    report = convert_float(model, tmp_path / "float.tflite")
    assert report.kind == "float32" and report.input_dtype == "float32" and report.budget_bytes is None
    scorer = TFLiteScorer(tmp_path / "float.tflite")
    assert scorer.input_dtype == np.float32 and not scorer.quantized_output and scorer.image_size == 8
    pixels = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    assert scorer.score_array(pixels) == pytest.approx(float(model(pixels[None].astype(np.float32))[0, 0]), abs=1e-4)
    assert scorer.score_array(np.full((8, 8, 3), 255, np.uint8)) == pytest.approx(5.0, abs=1e-4)
    with pytest.raises(TypeError, match="float output"):
        scorer.raw_output(pixels)
    with pytest.raises(OutputRangeError, match="not uint8"):
        pin_output_range((tmp_path / "float.tflite").read_bytes(), 0.0, 5.0)


def test_score_file_uses_the_training_preprocessing(exported):
    scorer = TFLiteScorer(exported.int8)
    path = exported.photos / VALIDATION[0]
    assert scorer.score_file(path) == scorer.score_array(load_for_model(path, SIZE))
    with pytest.raises(ValueError, match="64x64x3 uint8"):
        scorer.score_array(np.zeros((32, 32, 3), np.uint8))


def test_over_budget_raises_and_writes_nothing(exported, tmp_path):
    content = exported.int8.read_bytes()
    with pytest.raises(ExportBudgetError, match=r"over the 10,000-byte.*--cut-layer"):
        save_tflite(content, tmp_path / "small.tflite", "int8", budget_bytes=10_000)
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file


def test_compaction_shares_zero_points_and_changes_no_output(exported):
    content = exported.int8.read_bytes()
    plain = flatbuffers.Builder(len(content))  # what a standard object-API re-pack writes
    plain.Finish(schema.ModelT.InitFromPackedBuf(bytearray(content), 0).Pack(plain), file_identifier=b"TFL3")
    unshared = bytes(plain.Output())
    assert len(unshared) - len(content) > 50_000  # the default model's per-channel zero points
    recompacted = compact_tflite(unshared)
    assert len(recompacted) == len(content)
    np.testing.assert_array_equal(raw_outputs(unshared, exported.parity_images),
                                  raw_outputs(recompacted, exported.parity_images))
    model = schema.Model.GetRootAs(recompacted, 0)
    misaligned = [i for i in range(model.BuffersLength()) if model.Buffers(i).DataLength()
                  and model.Buffers(i)._tab.Vector(model.Buffers(i)._tab.Offset(4)) % 16]
    assert misaligned == []


def test_representative_images_are_training_photos_only(exported):
    images = representative_images(exported.run, exported.photos, n=5)
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.uint8
    training = {load_for_model(exported.photos / n, SIZE).tobytes() for n in TRAINING}
    assert all(image.tobytes() in training for image in images)


def test_conversion_refuses_a_model_without_a_fixed_batch_of_one(exported, tmp_path):
    with pytest.raises(ValueError, match="fixed_size_model"):
        convert_int8(exported.keras_model, exported.parity_images, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="image_size"):
        fixed_size_model(exported.keras_model, 16)


def test_score_cli_reports_every_file_and_never_imports_tensorflow(exported, tmp_path):
    folder = tmp_path / "to_score"
    folder.mkdir()
    for i in range(3):
        _photo(200 + i).save(folder / f"good{i}.png")
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    out = tmp_path / "scores.csv"
    result = run_export_cli_without_tensorflow(["score", "--model", str(exported.int8), "--out", str(out), str(folder)],
                                               tmp_path)
    assert result.returncode == 0, result.stderr
    assert "images/s" in result.stdout and "1 failed" in result.stdout
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in rows] == ["broken.jpg", "good0.png", "good1.png", "good2.png"]
    broken, good = rows[0], rows[1:]
    assert broken["score"] == broken["stars"] == "" and "not a recognised image format" in broken["error"]
    for row in good:
        assert row["error"] == "" and 0 <= float(row["score"]) <= 5
        assert float(row["stars"]) == round_half_stars(float(row["score"]))


def test_score_cli_fails_when_nothing_could_be_scored(exported, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    assert cli.main(["score", "--model", str(exported.int8), "--out", str(tmp_path / "s.csv"), str(broken)]) == 1
    assert "no photo could be scored" in capsys.readouterr().err
    assert cli.main(["score", "--model", str(tmp_path / "missing.tflite"), "--out", str(tmp_path / "s.csv"),
                     str(broken)]) == 2
