"""Compression ladders: the documented table, resume, parallel runs, bad sources, and the setting predictor and
searches trained on them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from iqlite.compression.content_features import FEATURE_NAMES, content_features
from iqlite.compression.ladder_run import list_sources, run_ladders
from iqlite.compression.ladders import COLUMNS, DEFAULT_LADDER, read_ladder_table
from iqlite.compression.metrics import ssimulacra2, ssimulacra2_scorer
from iqlite.compression.predictor_fit import fit_predictor
from iqlite.compression.search import Trials, arms_for, bisection_search, predicted_search
from iqlite.compression.setting_predictor import SettingPredictor, arm_setting
from iqlite.training.core.errors import InputError

FORMATS = ("jpeg", "webp", "avif")


def _photo(seed: int, size: int = 112) -> Image.Image:
    """A small synthetic scene (smooth gradient, discs, some grain): photos that need different settings."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([120 + 100 * x * rng.uniform(-1, 1), 110 + 90 * y * rng.uniform(-1, 1),
                     130 + 60 * (x - y) * rng.uniform(-1, 1)], axis=-1)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        cx, cy, r = int(rng.integers(0, size)), int(rng.integers(0, size)), int(rng.integers(5, 25))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    grain = rng.integers(-3, 4, size=(size, size, 3)) * (seed % 3)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=int) + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    for seed in range(5):
        _photo(seed).save(folder / f"p{seed}.png")
    (folder / "sub").mkdir()
    _photo(7).save(folder / "sub" / "q.png")
    return folder


@pytest.fixture(scope="module")
def ladder(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ladders")
    run_ladders([sources], out, formats=FORMATS, progress=False)
    return out


def _rows_per_source() -> int:
    return sum(len(DEFAULT_LADDER[f]) for f in FORMATS)


def test_the_table_has_the_documented_columns_and_a_row_per_source_and_setting(ladder):
    with (ladder / "ladders.csv").open(newline="") as file:
        header = next(csv.reader(file))
    assert tuple(header) == COLUMNS
    rows = read_ladder_table(ladder / "ladders.csv")
    assert len(rows) == 6 * _rows_per_source()
    assert {r["source"] for r in rows} == {"p0.png", "p1.png", "p2.png", "p3.png", "p4.png", "sub/q.png"}
    manifest = json.loads((ladder / "ladders.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["rows"] == len(rows) and manifest["errors"] == 0
    for row in rows:
        assert row["error"] == "" and row["width"] == 112 and row["bytes"] > 0
        assert row["bpp"] == pytest.approx(8 * row["bytes"] / 112**2, abs=1e-4)
    jpeg = sorted((r for r in rows if r["source"] == "p0.png" and r["subsampling"] == "4:2:0"),
                  key=lambda r: r["quality"])
    assert jpeg[0]["ssimulacra2"] < jpeg[-1]["ssimulacra2"] and jpeg[0]["bytes"] < jpeg[-1]["bytes"]
    assert jpeg[0]["psnr"] < jpeg[-1]["psnr"] and jpeg[0]["ssim"] < jpeg[-1]["ssim"]


def test_a_rerun_measures_nothing_again_and_writes_the_same_table(ladder, sources):
    before = (ladder / "ladders.csv").read_bytes()
    summary = run_ladders([sources], ladder, formats=FORMATS, progress=False)
    assert summary.measured == 0 and summary.skipped == 6 * len(FORMATS)
    assert (ladder / "ladders.csv").read_bytes() == before


def test_an_interrupted_run_resumes_and_two_workers_give_the_same_table(ladder, sources, tmp_path):
    out = tmp_path / "resumed"
    run_ladders([sources], out, formats=FORMATS, sample=2, progress=False)  # "interrupted" after 2 photos
    summary = run_ladders([sources], out, formats=FORMATS, workers=2, progress=False)
    assert summary.skipped == 2 * len(FORMATS) and summary.measured == 4 * len(FORMATS)
    assert (out / "ladders.csv").read_bytes() == (ladder / "ladders.csv").read_bytes()


def test_an_unreadable_source_gets_an_error_row_and_the_rest_goes_on(sources, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _photo(1).save(folder / "good.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    summary = run_ladders([folder], tmp_path / "out", formats=("jpeg",), progress=False)
    rows = read_ladder_table(tmp_path / "out" / "ladders.csv")
    errors = {r["source"]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"broken.jpg", "empty.png"} and "broken.jpg" in errors["broken.jpg"]
    assert len(summary.errors) == 2
    assert sum(1 for r in rows if r["source"] == "good.png") == len(DEFAULT_LADDER["jpeg"])


def test_a_folder_of_another_ladder_is_refused(ladder, sources, tmp_path):
    out = tmp_path / "other"
    run_ladders([sources], out, formats=("jpeg",), sample=1, progress=False)
    manifest = json.loads((out / "ladders.json").read_text())
    manifest["ladder"]["jpeg"] = manifest["ladder"]["jpeg"][:3]
    (out / "ladders.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="other settings"):
        run_ladders([sources], out, formats=("jpeg",), progress=False)


def test_a_sample_is_a_prefix_of_a_larger_one(sources):
    small, large = list_sources([sources], 2, seed=3), list_sources([sources], 4, seed=3)
    assert large[:2] == small and len({s for _, s in large}) == 4
    with pytest.raises(InputError, match="--sample"):
        list_sources([sources], 0)


def test_a_bad_ladder_table_is_named(tmp_path):
    table = tmp_path / "ladders.csv"
    table.write_text("source,bytes\nx,1\n")
    with pytest.raises(InputError, match="not a ladder table"):
        read_ladder_table(table)
    table.write_text(",".join(COLUMNS) + "\n" + "a,96,96,jpeg,jpeg q20 420 prog,20,4:2:0,,many,1,1,1,1,\n")
    with pytest.raises(InputError, match="line 2"):
        read_ladder_table(table)


def test_content_features_are_finite_and_see_blur():
    sharp, blurred = np.asarray(_photo(4)), np.asarray(_photo(4).filter(ImageFilter.GaussianBlur(2)))
    fs, fb = content_features(sharp), content_features(blurred)
    assert fs.shape == (len(FEATURE_NAMES),) and np.all(np.isfinite(fs))
    grad = FEATURE_NAMES.index("grad_mean")
    assert fb[grad] < 0.7 * fs[grad]


# ------------------------------------------------------------------------------ predictor and searches


@pytest.fixture(scope="module")
def predictor(ladder, sources) -> SettingPredictor:
    return fit_predictor([ladder], [sources], exclude={"p4.png"})


def test_the_predictor_names_a_setting_per_arm_and_survives_a_round_trip(predictor, tmp_path):
    features = content_features(np.asarray(_photo(4)))
    predictions = predictor.predict(features, 80, arms_for(FORMATS))
    assert {p.arm for p in predictions} == {"jpeg", "jpeg444", "webp", "avif"}
    assert [p.log_bpp for p in predictions] == sorted(p.log_bpp for p in predictions)
    assert predictor.meta["sources"] == 5  # p4 left out
    predictor.save(tmp_path / "p.json")
    again = SettingPredictor.load(tmp_path / "p.json")
    assert again.predict(features, 80, arms_for(FORMATS)) == predictions
    low = {p.arm: p.quality for p in predictor.predict(features, 60, arms_for(FORMATS))}
    high = {p.arm: p.quality for p in predictor.predict(features, 90, arms_for(FORMATS))}
    assert all(high[arm] >= low[arm] for arm in low)


def test_a_corrupt_predictor_file_is_named(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="p.json"):
        SettingPredictor.load(bad)
    bad.write_text(json.dumps({"format_version": 99}))
    with pytest.raises(InputError, match="format version"):
        SettingPredictor.load(bad)


def test_bisection_finds_the_lowest_quality_that_meets_the_target():
    pixels = np.asarray(_photo(4))
    trials = Trials(pixels, ssimulacra2_scorer(pixels))
    result = bisection_search(trials, 70, arms=["webp"])
    best = result.best
    assert best is not None and best.score >= 70
    below = trials.run(arm_setting("webp", best.setting.quality - 1))
    assert below.score < 70


def test_the_predicted_search_meets_the_target_in_few_encodes_near_the_oracle(predictor):
    pixels = np.asarray(_photo(4))  # held out of the predictor
    features = content_features(pixels)
    shared: dict = {}
    fast = predicted_search(Trials(pixels, ssimulacra2_scorer(pixels), shared=shared), features, 70, predictor,
                            arms=arms_for(FORMATS), max_encodes=4)
    oracle = bisection_search(Trials(pixels, ssimulacra2_scorer(pixels), shared=shared), 70, arms=arms_for(FORMATS))
    assert fast.best is not None and fast.encodes <= 4 < oracle.encodes
    from iqlite.compression.codecs import decode

    assert ssimulacra2(pixels, decode(fast.best.data)) >= 70  # measured again, from the bytes
    assert fast.best.bytes <= 1.25 * oracle.best.bytes


def test_a_photo_with_alpha_never_becomes_a_jpeg(predictor):
    rgb = np.asarray(_photo(2))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:20] = 0
    rgba = np.dstack([rgb, alpha])
    result = predicted_search(Trials(rgba, ssimulacra2_scorer(rgba)), content_features(rgb), 70, predictor,
                              arms=arms_for(FORMATS), max_encodes=4)
    assert result.trials and all(t.setting.format != "jpeg" for t in result.trials)
    assert result.best is not None and result.best.setting.format in ("webp", "avif")


# ------------------------------------------------------------------------------------------ the commands


def test_the_training_commands_build_ladders_and_a_predictor_export_optimize_can_use(sources, tmp_path, capsys):
    from iqlite.training import cli

    out = tmp_path / "ladders"
    assert cli.main(["compression-ladders", "--sources", str(sources), "--out", str(out), "--formats", "jpeg",
                     "webp", "--workers", "1", "--sample", "3", "--no-progress"]) == 0
    assert "3 photos: 6 photo-format ladders measured" in capsys.readouterr().out
    measured = sorted({str(r["source"]) for r in read_ladder_table(out / "ladders.csv")})
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(measured[0] + "\n")
    predictor = tmp_path / "p.json"
    assert cli.main(["compression-predictor", "--ladders", str(out), "--sources", str(sources), "--out",
                     str(predictor), "--exclude", str(exclude)]) == 0
    loaded = SettingPredictor.load(predictor)
    assert set(loaded.arms) == {"jpeg", "jpeg444", "webp"} and loaded.meta["sources"] == 2


def test_the_training_commands_name_what_is_wrong(sources, tmp_path, capsys):
    from iqlite.training import cli

    assert cli.main(["compression-ladders", "--sources", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"),
                     "--no-progress"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert cli.main(["compression-ladders", "--sources", str(sources), "--out", str(tmp_path / "o"), "--formats",
                     "gif", "--no-progress"]) == 2
    assert "unknown format 'gif'" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["compression-predictor", "--ladders", str(empty), "--sources", str(sources), "--out",
                     str(tmp_path / "p.json")]) == 2
    assert "no ladder table" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["compression-predictor", "--ladders", str(empty), "--sources", str(sources), "--out",
                  str(tmp_path / "p.txt")])


class _CurveTrials(Trials):
    """Trials read off made-up curves (score and bytes per arm as functions of quality): the search's logic alone."""

    curves: dict = {}

    def run(self, setting):  # type: ignore[no-untyped-def]
        from iqlite.compression.search import Trial
        from iqlite.compression.setting_predictor import arm_of

        if setting not in self.done:
            score, size = self.curves[arm_of(setting)](setting.quality)
            self.done[setting] = Trial(setting, b"\0" * int(size), float(score))
        return self.done[setting]


def test_an_arm_that_saturates_below_the_target_is_rescued_within_the_budget(predictor):
    from iqlite.compression.setting_predictor import ArmPrediction

    trials = _CurveTrials(np.zeros((100, 100, 3), np.uint8), scorer=lambda _: 0.0)
    trials.curves = {"avif": lambda q: (60 + 19 * (1 - np.exp(-q / 30)), 100 * q),  # tops out below 80
                     "jpeg444": lambda q: (q + 5, 150 * q), "jpeg": lambda q: (q, 200 * q),
                     "webp": lambda q: (q - 5, 180 * q)}

    class Guesses:  # the predictor's guesses, fixed: avif looks cheapest but cannot reach 80
        quality_range = predictor.quality_range

        def predict(self, features, target, arms):  # type: ignore[no-untyped-def]
            return [ArmPrediction("avif", 70, -1.0), ArmPrediction("jpeg444", 72, 0.0),
                    ArmPrediction("webp", 85, 0.1), ArmPrediction("jpeg", 80, 0.2)]

        def quality_step(self, arm, quality, change):  # type: ignore[no-untyped-def]
            return predictor.quality_step(arm, quality, change)

    result = predicted_search(trials, np.zeros(1), 80, Guesses(), arms=arms_for(FORMATS), max_encodes=4)
    assert result.encodes <= 4
    assert result.best is not None and result.best.setting.subsampling == "4:4:4" and result.best.score >= 80
