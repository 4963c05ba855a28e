"""SSIMULACRA 2 as iqlite measures it: C++'s published scores, the scale's direction, alpha, bad pairs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import ssimulacra2 as package
from PIL import Image

from benchmarks.ssimulacra2_reference import published_cases
from iqlite.compression.codecs import Setting, decode, encode
from iqlite.compression.metrics import Ssimulacra2Reference, psnr, ssim, ssimulacra2, ssimulacra2_scorer
from iqlite.training.core.errors import InputError
from tests.conftest import textured_photo


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(textured_photo(5, size=128))


def _png(pixels: np.ndarray) -> io.BytesIO:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    out.seek(0)
    return out


@pytest.mark.parametrize("name", ["gradient_vs_uniform_64x64", "noise_vs_uniform_64x64", "noise_vs_sharpen_64x64"])
def test_published_cpp_scores_are_met_where_the_raw_package_misses(name):
    """Cases the C++ tool scored (imazen/ssimulacra2, imazen/fast-ssim2; see the benchmark): iqlite's two libjxl
    rules (zero borders, the pyramid's extra level below 225 px) bring it within 0.3 points."""
    case = next(c for c in published_cases() if c.name == name)
    reference, distorted = case.build()
    assert ssimulacra2(reference, distorted) == pytest.approx(case.cpp, abs=0.3)
    raw = package.compute_ssimulacra2(_png(reference), _png(distorted))
    assert abs(raw - case.cpp) > 5  # why iqlite does not call the package's compute_ssimulacra2 directly


def test_identical_is_100_and_heavier_compression_scores_lower(photo):
    assert ssimulacra2(photo, photo) == 100.0
    scores = [ssimulacra2(photo, decode(encode(photo, Setting("jpeg", q)))) for q in (20, 50, 90)]
    assert scores[0] < scores[1] < scores[2] < 100


def test_a_prepared_reference_scores_like_one_pair_calls(photo):
    prepared = Ssimulacra2Reference(photo)
    for q in (30, 80):
        version = decode(encode(photo, Setting("webp", q)))
        assert prepared.score(version) == ssimulacra2(photo, version)


def test_alpha_is_judged_over_dark_and_light_backgrounds(photo):
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    alpha[:, :64] = 0  # left half fully transparent
    rgba = np.dstack([photo, alpha])
    scorer = ssimulacra2_scorer(rgba)
    assert scorer(rgba) == 100.0
    hidden_change = rgba.copy()
    hidden_change[:, :64, :3] = 0  # colour under full transparency: invisible on any background
    assert scorer(hidden_change) == 100.0
    visible = rgba.copy()
    visible[:, :64, 3] = 255  # the transparent half made opaque: visible
    assert scorer(visible) < 80
    with pytest.raises(InputError, match="RGBA"):
        scorer(photo)


def test_psnr_and_ssim(photo):
    version = decode(encode(photo, Setting("jpeg", 40)))
    assert psnr(photo, photo) == float("inf") and ssim(photo, photo) == pytest.approx(1.0)
    assert 20 < psnr(photo, version) < 45 and 0.5 < ssim(photo, version) < 1.0


def test_pairs_that_cannot_be_compared_are_refused(photo):
    with pytest.raises(InputError, match="sizes differ"):
        ssimulacra2(photo, photo[:64])
    with pytest.raises(InputError, match="too small"):
        ssimulacra2(photo[:4, :4], photo[:4, :4])
    with pytest.raises(InputError, match="sizes differ"):
        psnr(photo, photo[:, :64])
