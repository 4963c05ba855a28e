"""The NIMA baseline: EMD on cumulative distributions, targets, moments, training and int8 export."""

from __future__ import annotations

import numpy as np
import pytest

from training.keras_setup import keras, tf
from training.nima import (
    BIN_CENTRES,
    N_BINS,
    DistributionMoments,
    distribution_moments,
    emd,
    emd_loss,
    nima_image_model,
    normal_target,
    train_nima_head,
    vote_histogram,
)


def _one_hot(k: int) -> np.ndarray:
    p = np.zeros(N_BINS)
    p[k] = 1.0
    return p


def test_emd_uses_cumulative_distributions_so_distance_grows_with_how_far_the_mass_moved():
    near, far = emd(_one_hot(0), _one_hot(1)), emd(_one_hot(0), _one_hot(9))
    assert far == pytest.approx(3.0 * near)  # sqrt(9/10) vs sqrt(1/10)
    # The public-port bug: comparing the bins themselves, not their cumulative sums, cannot tell them apart.
    naive = [np.sqrt(np.mean((_one_hot(0) - _one_hot(k)) ** 2)) for k in (1, 9)]
    assert naive[0] == pytest.approx(naive[1])
    assert emd(_one_hot(4), _one_hot(4)) == 0.0


def test_keras_loss_equals_the_numpy_definition():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(N_BINS), 6), rng.dirichlet(np.ones(N_BINS), 6)
    loss = float(emd_loss(tf.constant(p, tf.float32), tf.constant(q, tf.float32)))
    assert loss == pytest.approx(float(np.mean(emd(p, q))), rel=1e-4)


def test_targets_from_mos_and_std_or_from_votes():
    target = normal_target(np.array([1.0, 2.5, 4.0]), np.array([0.5, 1.0, np.nan]))
    assert target.shape == (3, N_BINS) and np.allclose(target.sum(1), 1.0)
    mean, std = distribution_moments(target)
    assert mean[1] == pytest.approx(2.5, abs=0.01) and std[1] > std[0]
    assert mean[0] == pytest.approx(1.0, abs=0.05)
    assert std[0] < std[2] < std[1]  # a missing std falls back to the median of the given ones (0.75)
    histogram = vote_histogram([np.array([0.0, 5.0, 5.0, 2.6])])
    assert histogram[0, 0] == 0.25 and histogram[0, 9] == 0.5 and histogram[0, 5] == 0.25
    with pytest.raises(ValueError, match="without votes"):
        vote_histogram([np.array([])])


def test_moments_layer_matches_numpy():
    p = np.random.default_rng(1).dirichlet(np.ones(N_BINS), 4).astype(np.float32)
    moments = DistributionMoments()(tf.constant(p)).numpy()
    mean, std = distribution_moments(p)
    np.testing.assert_allclose(moments[:, 0], mean, atol=1e-5)
    np.testing.assert_allclose(moments[:, 1], std, atol=1e-4)
    assert float(BIN_CENTRES[0]) == 0.25 and float(BIN_CENTRES[-1]) == 4.75


def test_the_head_learns_scores_from_informative_features():
    rng = np.random.default_rng(2)
    scores = rng.uniform(0.5, 4.5, 240)
    features = np.hstack([scores[:, None] + rng.normal(0, 0.2, (240, 1)), rng.normal(0, 1, (240, 5))])
    targets = normal_target(scores, np.full(240, 0.6))
    head, info = train_nima_head(features[:160], targets[:160], features[160:200], scores[160:200], epochs=80,
                                 patience=25, learning_rate=0.01)
    mean, _ = distribution_moments(head.predict(features[200:].astype(np.float32), verbose=0))
    assert np.corrcoef(mean, scores[200:])[0, 1] > 0.9
    assert info["val_srcc"] > 0.9


def test_nima_exports_to_int8_like_the_regressor(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from export.tflite_export import quantize_int8
    from training.config import TrainConfig
    from training.model import build_model, pooled_feature_model

    model = build_model(TrainConfig.smoke().model, None)
    features = pooled_feature_model(model)
    head_in = keras.Input(shape=(int(features.output.shape[-1]),))
    head = keras.Model(head_in, keras.layers.Dense(N_BINS, activation="softmax")(head_in))
    image = keras.Input(shape=(64, 64, 3), batch_size=1)
    single = keras.Model(image, nima_image_model(features, head)(image))
    rng = np.random.default_rng(3)
    photos = rng.integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    content = quantize_int8(single, photos, pin_output=False)
    assert len(content) < 450 * 1024
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8 and list(out["shape"]) == [1, 2]
    interpreter.set_tensor(inp["index"], photos[:1])
    interpreter.invoke()
    scale, zero = out["quantization"]
    mean_std = scale * (interpreter.get_tensor(out["index"]).reshape(-1).astype(float) - zero)
    expected = single.predict(photos[:1], verbose=0)[0]
    np.testing.assert_allclose(mean_std, expected, atol=0.15)
