"""The codecs behind compression ladders and the optimizer: every format round-trips, settings mean what they say."""

from __future__ import annotations

import numpy as np
import pytest

from iqlite.compression.codecs import FORMATS, CodecError, Setting, available_formats, decode, encode
from tests.conftest import textured_photo


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(textured_photo(3, size=128))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / mse) if mse else np.inf


def test_every_format_is_available_here():
    assert available_formats() == FORMATS  # JPEG XL through pillow-jxl-plugin, pinned in pyproject.toml


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips_and_lower_quality_means_fewer_bytes_and_more_error(photo, fmt):
    high, low = encode(photo, Setting(fmt, 90)), encode(photo, Setting(fmt, 30))
    assert len(low) < len(high)
    back_high, back_low = decode(high), decode(low)
    assert back_high.shape == photo.shape and back_high.dtype == np.uint8
    assert _psnr(photo, back_high) > _psnr(photo, back_low) > 15


def test_jpeg_options_change_the_file(photo):
    base = Setting("jpeg", 80)
    assert encode(photo, base)[:2] == b"\xff\xd8"
    progressive = encode(photo, base)
    baseline = encode(photo, Setting("jpeg", 80, progressive=False))
    assert b"\xff\xc2" in progressive and b"\xff\xc2" not in baseline  # SOF2 marks a progressive scan
    full_chroma = encode(photo, Setting("jpeg", 80, subsampling="4:4:4"))
    assert len(full_chroma) > len(progressive)  # 4:4:4 keeps twice the colour samples


def test_effort_trades_time_for_bytes(photo):
    fast = encode(photo, Setting("webp", 75, effort=0))
    slow = encode(photo, Setting("webp", 75, effort=6))
    assert len(slow) < len(fast)


def test_settings_are_checked_and_labelled():
    for bad in (dict(format="gif", quality=50), dict(format="jpeg", quality=0), dict(format="webp", quality=101),
                dict(format="jpeg", quality=80, subsampling="4:1:1"), dict(format="avif", quality=50, effort=11)):
        with pytest.raises(CodecError):
            Setting(**bad)
    assert Setting("jpeg", 85, subsampling="4:4:4").label() == "jpeg q85 444 prog"
    assert Setting("webp", 80).label() == "webp q80 m6"
    assert Setting("avif", 60, effort=4).label() == "avif q60 s4"
    assert Setting("jxl", 70).with_quality(75).label() == "jxl q75 e7"


def test_bad_input_is_a_clear_error(photo):
    with pytest.raises(CodecError, match="cannot decode 9 bytes"):
        decode(b"not image")
    with pytest.raises(ValueError, match="uint8 height x width x 3"):
        encode(photo.astype(np.float32), Setting("jpeg", 80))
