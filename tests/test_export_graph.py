"""The int8-friendly export graph is the trained function, and the parity report judges what it should."""

from __future__ import annotations

import numpy as np
import pytest

from iqlite.export.export_graph import check_same_function, export_graph, folded_head
from iqlite.export.parity import MAX_SRCC_DROP, MIN_PARITY_SRCC, compare_scores
from iqlite.training.core.images import resize_for_model
from iqlite.training.regressor.model import (
    ModelSpec,
    build_model,
    logit_model,
    pooled_feature_model,
    set_calibration,
    set_linear_head,
)
from tests.conftest import textured_photo

SIZE = 64


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return np.stack([resize_for_model(np.asarray(textured_photo(seed, size=96)), SIZE) for seed in range(8)])


@pytest.fixture(scope="module")
def trained(photos):
    """A model whose head has a real standardisation, weights and calibration (as after training)."""
    model = build_model(ModelSpec(), weights="none")
    features = pooled_feature_model(model).predict(photos.astype(np.float32), verbose=0)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=features.shape[1]) / np.sqrt(features.shape[1])
    set_linear_head(model, features.mean(axis=0), features.var(axis=0) + 1e-10, weights, 0.3)
    set_calibration(model, 1.7, -0.4)
    return model


def test_export_graph_computes_the_trained_scores(trained, photos):
    exported = export_graph(trained, SIZE)
    assert tuple(exported.inputs[0].shape) == (1, SIZE, SIZE, 3)
    scores = trained.predict(photos.astype(np.float32), verbose=0).reshape(-1)
    assert np.ptp(scores) > 0.1, "the test model must give different scores, or equality would prove nothing"
    assert check_same_function(trained, exported, photos, tolerance=1e-4) <= 1e-4


def test_folded_head_is_the_whole_linear_path_to_the_logit(trained, photos):
    features = pooled_feature_model(trained).predict(photos.astype(np.float32), verbose=0).astype(np.float64)
    weights, bias = folded_head(trained)
    calibrated_logit = 1.7 * logit_model(trained).predict(photos.astype(np.float32), verbose=0).reshape(-1) - 0.4
    np.testing.assert_allclose(features @ weights + bias, calibrated_logit, rtol=1e-4, atol=1e-4)


def test_check_same_function_refuses_a_different_model(trained, photos):
    other = build_model(ModelSpec(), weights="none")
    set_calibration(other, 0.2, 1.0)
    with pytest.raises(ValueError, match="differs from the trained model"):
        check_same_function(trained, export_graph(other, SIZE), photos[:2])


def test_parity_report_passes_close_scores_and_names_the_worst_photo():
    human = np.linspace(0.5, 4.5, 50)
    float_scores = human + np.sin(np.arange(50)) * 0.3
    int8 = float_scores + np.where(np.arange(50) == 17, 0.2, 0.01)
    report = compare_scores(float_scores, int8, human, [f"p{i}.jpg" for i in range(50)])
    assert report.passed
    assert report.worst_image == "p17.jpg"
    assert report.max_abs_diff == pytest.approx(0.2)
    assert report.srcc_float_vs_int8 >= MIN_PARITY_SRCC
    assert report.to_dict()["srcc_drop"] == pytest.approx(report.srcc_float_vs_human - report.srcc_int8_vs_human)


def test_parity_report_fails_on_rank_changes_or_an_accuracy_drop():
    human = np.linspace(0.5, 4.5, 50)
    float_scores = human.copy()
    shuffled = float_scores.copy()
    shuffled[::5] = shuffled[::5][::-1]  # every fifth photo out of place
    report = compare_scores(float_scores, shuffled, human)
    assert report.srcc_float_vs_int8 < MIN_PARITY_SRCC and not report.passed
    assert report.srcc_drop > MAX_SRCC_DROP
    assert "below the parity bar" in report.summary()


def test_parity_needs_aligned_vectors():
    with pytest.raises(ValueError, match="aligned"):
        compare_scores(np.ones(5), np.ones(4))
