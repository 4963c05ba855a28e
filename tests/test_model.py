import numpy as np
import pytest

from iqlite.training.regressor.backbone_weights import WeightsNotFoundError, imagenet_weights_file
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import (
    BACKBONE_NAME,
    ModelSpec,
    build_model,
    logit_model,
    pooled_feature_model,
    restore_checkpoint,
    set_calibration,
    set_linear_head,
    unfreeze_top,
)


@pytest.fixture(scope="module")
def model():
    return build_model(ModelSpec(), weights="none")


def test_output_is_bounded_to_stars_at_any_size(model):
    rng = np.random.default_rng(0)
    for size in (64, 96):
        x = rng.integers(0, 256, size=(3, size, size, 3)).astype(np.float32)
        y = np.asarray(model(x, training=False))
        assert y.shape == (3, 1)
        assert np.all((y >= 0) & (y <= 5))


def test_backbone_is_cut_before_conv_1(model):
    names = [layer.name for layer in model.get_layer(BACKBONE_NAME).layers]
    assert "Conv_1" not in names
    assert names[-1] == "block_16_project_BN"


def test_unfreeze_top_keeps_batchnorm_frozen(model):
    count = unfreeze_top(model, "block_13_expand")
    assert count > 0
    layers = model.get_layer(BACKBONE_NAME).layers
    start = [layer.name for layer in layers].index("block_13_expand")
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.BatchNormalization) or i < start:
            assert not layer.trainable, layer.name
        elif layer.weights:
            assert layer.trainable, layer.name


def test_calibration_changes_spread_not_order(model):
    x = np.random.default_rng(1).integers(0, 256, size=(6, 64, 64, 3)).astype(np.float32)
    z = np.asarray(logit_model(model)(x)).ravel()
    set_calibration(model, 3.0, 0.5)
    y = np.asarray(model(x)).ravel()
    np.testing.assert_allclose(y, 5 / (1 + np.exp(-(3.0 * z + 0.5))), rtol=1e-4, atol=1e-5)
    set_calibration(model, 1.0, 0.0)


def test_unknown_layers_are_clear_errors():
    with pytest.raises(ValueError, match="not in MobileNetV2"):
        build_model(ModelSpec(cut_layer="no_such_layer"), weights="none")
    with pytest.raises(ValueError, match="after the cut"):
        build_model(ModelSpec(cut_layer="block_12_add", taps=("block_15_add",)), weights="none")


def test_missing_imagenet_weights_give_one_message_with_the_fix(monkeypatch, tmp_path):
    """Offline and nothing in the cache: the error says where to put the file and names --weights none."""
    from tf_keras.src.applications import mobilenet_v2

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(mobilenet_v2.data_utils, "get_file", offline)
    with pytest.raises(WeightsNotFoundError) as info:
        build_model(ModelSpec(), weights="imagenet")
    text = str(info.value)
    assert imagenet_weights_file(0.35) in text
    assert str(tmp_path) in text
    assert "--weights none" in text


def test_weights_path_that_does_not_exist(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="no such file"):
        build_model(ModelSpec(), weights=str(tmp_path / "nope.h5"))


def test_checkpoint_restored_into_a_fresh_model_computes_the_same_scores(tmp_path):
    """A resumed run restores checkpoints into a newly built model: the head's standardisation must come along."""
    spec = ModelSpec(cut_layer="block_5_add", taps=("block_2_add",))  # any architecture; a small one builds fast
    trained = build_model(spec, weights="none")
    images = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 3)).astype(np.float32)
    width = pooled_feature_model(trained).output.shape[-1]
    rng = np.random.default_rng(1)
    set_linear_head(trained, rng.normal(size=width), rng.uniform(0.5, 2.0, size=width), rng.normal(size=width), 0.1)
    path = tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))

    fresh = build_model(spec, weights="none")
    restore_checkpoint(tf.train.Checkpoint(model=fresh), path)

    expected = logit_model(trained).predict(images, verbose=0)
    np.testing.assert_allclose(logit_model(fresh).predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5)
