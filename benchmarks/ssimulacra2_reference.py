"""SSIMULACRA 2 as iqlite measures it (iqlite's compression target) against published C++ scores, and how fast.

    python -m benchmarks.ssimulacra2_reference             # about 5 minutes on one core
    python -m benchmarks.ssimulacra2_reference --photos 4  # a quicker look (not for committing)

Why: every compression table and `export optimize` aims at a SSIMULACRA 2 score, and the scale's meaning
(90 visually lossless, 70 medium) belongs to the C++ tool (libjxl `tools/ssimulacra2.cc`). No C++ binary is
available here, so iqlite's scores are held against scores the C++ tool *published* for inputs that can be
rebuilt here bit for bit. No number below is invented; every expected value is quoted with its repository
and file.

Three scorers are compared side by side:
- `package`: the PyPI `ssimulacra2` package as published, through its public API
  `ssimulacra2.compute_ssimulacra2(file_a, file_b)` (the uint8 arrays handed over as PNG in memory:
  lossless, so the package sees exactly the same pixels).
- `iqlite`: `iqlite.compression.metrics.ssimulacra2`, what ladders and `export optimize` use: the package's
  own functions with the two rules where the package departs from libjxl put back (zero outside the image
  on all four sides of the blur, still scipy's truncated Gaussian; libjxl's pyramid rule: a level is
  skipped only when the level *before* it is under 8 px, so the C++ runs one level more on any image under
  225 px).
- `libjxl_rules`: a diagnostic, not a reference: the package's arithmetic with libjxl's recursive Gaussian
  (tools/gauss_blur.cc) and the same two rules. It tests the explanation: where it matches the published
  values, the package's difference is due to those two rules; where iqlite matches it, scipy's kernel in
  place of the recursive one does not matter.

1. Published C++ scores with exactly reproducible inputs (all synthetic; no published C++ score of a photo
   found whose distorted file can be rebuilt exactly):
   - imazen/ssimulacra2 `ssimulacra2/src/reference_data.rs`: 62 pairs (uniform fields, colour shifts,
     gradients, checkerboards, LCG noise, edges) captured from the C++ binary, with the SHA-256 of every
     image's raw RGB bytes; the generators are in `ssimulacra2/examples/capture_cpp_reference.rs`. Every
     image rebuilt here is checked against those hashes (first 16 hex digits).
   - imazen/fast-ssim2 `benchmarks/cpp_parity_synthetic_2026-08-31.tsv`: the same 62 re-scored by the C++
     binary of jpeg-xl 0.12.0 (identical values) plus 4 distortions (8x8 box blur, sharpen, a BT.601
     YUV round trip), generators in `fast-ssim2/dev/testcases.rs`. No hash is published for the 4
     distorted images (3 of the 4 sources are hash-checked above).
   - imazen/fast-ssim2 `benchmarks/cpp_parity_flat_field_probe_2026-08-31.tsv`: mid-grey with +/-amp LCG
     texture vs the same shifted by 1, 5 or 20 levels, 32/64/256 px, generator `textured_pair` in
     `fast-ssim2/examples/flat_field_probe.rs` (seed 0x5EED1234). The 9 rows with no texture repeat
     uniform_shift cases and are left out; 54 remain.
   Identical pairs score exactly 100 in C++; every scorer must too.
2. Real photos, where no published C++ score exists: the package and iqlite against the libjxl-rules
   cross-check on the Kodak photos at a JPEG ladder, next to the score step (iqlite's) between neighbouring
   quality settings.
3. Speed on this machine: a Kodak 768x512 photo vs its JPEG q75 and 500x500 LIVE-C photos vs theirs:
   iqlite's one-pair call, its prepared reference (prepare once, then score), and the package's one-pair
   call (PNG decode included, as in the C++ tool), median of --repeats.

Writes benchmarks/results/ssimulacra2_reference.json and .md.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import ssimulacra2 as package
from PIL import Image
from scipy.stats import kendalltau
from ssimulacra2 import ssimulacra2 as _s2

from benchmarks.common import (
    LIVEC_DATA,
    RESULTS,
    SHARED_DATA,
    command_line,
    cpu_model,
    markdown_header,
    markdown_row,
    write_results,
)
from iqlite.compression.codecs import Setting, decode, encode
from iqlite.compression.metrics import Ssimulacra2Reference, ssimulacra2, ssimulacra2_scorer
from iqlite.training.core.images import list_images, load_rgb

DEFAULT_OUT = RESULTS / "ssimulacra2_reference.json"
KODAK = SHARED_DATA / "kodak24"
LADDER = (50, 60, 70, 75, 80, 85, 90, 95)
SAME_PYRAMID_SIDE = 225  # from this short side up, the package and libjxl build the same 6-level pyramid

SRC_TABLE = "imazen/ssimulacra2 ssimulacra2/src/reference_data.rs"
SRC_TABLE_GEN = "imazen/ssimulacra2 ssimulacra2/examples/capture_cpp_reference.rs"
SRC_SYNTH = "imazen/fast-ssim2 benchmarks/cpp_parity_synthetic_2026-08-31.tsv"
SRC_SYNTH_GEN = "imazen/fast-ssim2 fast-ssim2/dev/testcases.rs"
SRC_PROBE = "imazen/fast-ssim2 benchmarks/cpp_parity_flat_field_probe_2026-08-31.tsv"
SRC_PROBE_GEN = "imazen/fast-ssim2 fast-ssim2/examples/flat_field_probe.rs"
SRC_CPP = "libjxl/libjxl tools/ssimulacra2.cc, tools/gauss_blur.cc"

# ------------------------------------------------------------------------------------- published values

#: C++ scores of (128,128,128) vs (128+s,)*3, by size and shift s (SRC_TABLE; printed by the tool to 8 places).
UNIFORM_SHIFT = {
    32: {1: 97.7492143, 5: 98.80827382, 10: 96.5311409, 20: 93.7982322, 50: 85.01409588},
    64: {1: 97.98672126, 5: 91.52357693, 10: 80.24289393, 20: 56.05855584, 50: -8.75942256},
    128: {1: 96.78920738, 5: 88.54070876, 10: 77.84296299, 20: 54.27883917, 50: -9.82383315},
    256: {1: 96.15027098, 5: 89.73209436, 10: 80.29149136, 20: 59.77892918, 50: -0.39085784},
}
#: C++ scores of the 64x64 distorted pairs: the first two from SRC_TABLE, the last four from SRC_SYNTH.
PAIRS_64 = {"gradient_vs_uniform": -64.56872148, "noise_vs_uniform": -47.33572558,
            "gradient_vs_boxblur8x8": 94.34090315, "noise_vs_sharpen": -5.81017556,
            "gradient_vs_yuv_roundtrip": 97.26010964, "edge_vs_boxblur8x8": 24.27333552}
#: C++ scores of textured_pair(size, amp, shift), by size, shift, then amp 1, 2, 4, 8, 16, 32 (SRC_PROBE).
PROBE_AMPS = (1, 2, 4, 8, 16, 32)
PROBE = {
    32: {1: (98.28401287, 98.04118195, 97.93551826, 98.42198658, 98.42963834, 98.93586901),
         5: (97.58973247, 97.71316633, 97.53270519, 97.81656735, 97.99925201, 98.08696235),
         20: (93.92372283, 94.00611169, 93.91169167, 93.85359627, 93.69977261, 93.43258562)},
    64: {1: (98.02174212, 98.07176974, 98.01953911, 98.07646524, 98.28201997, 98.51970061),
         5: (91.28132748, 91.23506411, 91.26990959, 91.27009281, 91.34477027, 91.47803726),
         20: (56.04258165, 56.04092176, 56.0407981, 56.08068697, 56.14960802, 56.67858213)},
    256: {1: (96.07599837, 96.17505227, 96.23823888, 96.25777136, 96.40346392, 96.37259953),
          5: (90.06056103, 90.18308798, 90.10546382, 90.14947086, 90.17438195, 90.22027648),
          20: (59.62665137, 59.61503395, 59.63535444, 59.65987584, 59.66498909, 60.03778161)},
}
#: First 16 hex digits of the SHA-256 of each image's raw RGB bytes, as published in SRC_TABLE, by size.
HASHES = {
    32: {"uniform": "753412db29fc2970", "shift_1": "9bfd6cf255ab3483", "shift_5": "51b9f0ae4323fb70",
         "shift_10": "264e5cfb60a64f9b", "shift_20": "2fcac1467f36ff01", "shift_50": "1cfe56369e044182",
         "gradient_h": "aa3a9df9ba5613cf", "gradient_v": "79d8bf5f927cbc65", "checkerboard_4": "25f517c98598e097",
         "checkerboard_8": "8056e450889b52ea", "checkerboard_16": "dbbfae08d980ce56",
         "noise_42": "83625644653a659e", "noise_123": "adafa287c32421dd", "noise_999": "c26efb740e095c58",
         "edge_vertical": "44d5b24ab392f2e2"},
    64: {"uniform": "2203a98fd84adfbd", "shift_1": "ba72ca16b1a20d73", "shift_5": "5b0e43ac49bd5fb3",
         "shift_10": "e802fe3a49ace0c2", "shift_20": "fe8a663ebc8cead5", "shift_50": "e67286008fa164d1",
         "gradient_h": "bfcfaa0618d28284", "gradient_v": "ace6ea6f0fc42ad4", "checkerboard_4": "dbdb01e8d49e11b3",
         "checkerboard_8": "ce810a56212fd98b", "checkerboard_16": "f05a28b4adf321fa",
         "noise_42": "7f6be7f433ccb0a0", "noise_123": "0d3841c663576a75", "noise_999": "53f592ab5678b4f4",
         "edge_vertical": "f0d003b6007c958d"},
    128: {"uniform": "2af5ead05032faaf", "shift_1": "43ebfa035c41a640", "shift_5": "bc6f35e8fbe58efe",
          "shift_10": "8a688a547f7bb470", "shift_20": "22a45cbe1683df60", "shift_50": "768e019eb1e7b74a",
          "gradient_h": "c347790d8be33cc6", "gradient_v": "e1ee5fe1c7d98cf8", "checkerboard_4": "85793f4827775001",
          "checkerboard_8": "de56bd98607690ac", "checkerboard_16": "fe2d0e09d366f7f0",
          "noise_42": "3ee3716412569ff9", "noise_123": "c53c205f69af5eb4", "noise_999": "ace3ad6e4cb8d279",
          "edge_vertical": "4906bcc6a0cd7340"},
    256: {"uniform": "83ab53863cf746ef", "shift_1": "1c0cfab02575aaff", "shift_5": "90526676d3846e7e",
          "shift_10": "2019b05026c860a3", "shift_20": "2aebb5647caa208a", "shift_50": "ebf9afb21c244788",
          "gradient_h": "fb5f204ed84efa48", "gradient_v": "2961137ded750813", "checkerboard_4": "c206c2b7a185cff1",
          "checkerboard_8": "e3e45ad46a0f85cb", "checkerboard_16": "9771669cebae5d46",
          "noise_42": "6742146af148c546", "noise_123": "c518fc76e482f1f6", "noise_999": "965e88bccae4a9bd",
          "edge_vertical": "ef6a7a3a6dd6460c"},
}

# ------------------------------------------------------------------ the published generators, in numpy

_MASK64 = (1 << 64) - 1
_LCG_MAX = 256 * 256 * 3  # the longest stream any case draws


@functools.cache
def _lcg_stream(seed: int) -> np.ndarray:
    """The u8 stream of the generators' LCG (state = state * 6364136223846793005 + 1442695040888963407 mod 2^64,
    byte = (state >> 33) & 0xFF); every case uses a prefix of its seed's stream."""
    out = bytearray(_LCG_MAX)
    state = seed
    for i in range(_LCG_MAX):
        state = (state * 6364136223846793005 + 1442695040888963407) & _MASK64
        out[i] = (state >> 33) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values.astype(np.uint8)[..., None], 3, axis=2)


def uniform(side: int, value: int) -> np.ndarray:
    return np.full((side, side, 3), value, dtype=np.uint8)


def gradient_h(side: int) -> np.ndarray:
    return _grey(np.tile(np.arange(side) * 255 // (side - 1), (side, 1)))


def gradient_v(side: int) -> np.ndarray:
    return gradient_h(side).transpose(1, 0, 2).copy()


def gradient_diag(side: int) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side]
    return _grey((x + y) * 255 // (2 * side - 2))


def checkerboard(side: int, cell: int) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side]
    return _grey(np.where((x // cell + y // cell) % 2 == 0, 255, 0))


def noise(side: int, seed: int) -> np.ndarray:
    return _lcg_stream(seed)[: side * side * 3].reshape(side, side, 3).copy()


def edge_vertical(side: int) -> np.ndarray:
    return _grey(np.tile(np.where(np.arange(side) < side // 2, 0, 255), (side, 1)))


def box_blur_8x8(img: np.ndarray) -> np.ndarray:
    """Mean over the 8x8 window at offsets -4..3 (edge pixels repeated), truncated, as testcases.rs."""
    h, w, _ = img.shape
    padded = np.pad(img.astype(np.uint32), ((4, 3), (4, 3), (0, 0)), mode="edge")
    total = sum(padded[dy:dy + h, dx:dx + w] for dy in range(8) for dx in range(8))
    return (total // 64).astype(np.uint8)


def sharpen(img: np.ndarray) -> np.ndarray:
    """[0 -1 0; -1 5 -1; 0 -1 0] with the centre standing in for missing neighbours, clamped, as testcases.rs."""
    c = img.astype(np.int32)
    p = np.pad(c, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return np.clip(5 * c - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:], 0, 255).astype(np.uint8)


def yuv_roundtrip(img: np.ndarray) -> np.ndarray:
    """testcases.rs's f32 BT.601 RGB -> YUV -> RGB, same operation order (Rust never fuses), truncated to u8."""
    f = np.float32
    r, g, b = (img[..., k].astype(f) for k in range(3))
    y = f(0.299) * r + f(0.587) * g + f(0.114) * b
    u = -f(0.14713) * r - f(0.28886) * g + f(0.436) * b + f(128.0)
    v = f(0.615) * r - f(0.51499) * g - f(0.10001) * b + f(128.0)
    out = (y + f(1.13983) * (v - f(128.0)),
           y - f(0.39465) * (u - f(128.0)) - f(0.58060) * (v - f(128.0)),
           y + f(2.03211) * (u - f(128.0)))
    return np.stack([np.clip(ch, f(0.0), f(255.0)).astype(np.uint8) for ch in out], axis=2)


def textured_pair(side: int, amp: int, shift: int, seed: int = 0x5EED1234) -> tuple[np.ndarray, np.ndarray]:
    """flat_field_probe.rs: 128 + (byte % (2 amp + 1) - amp) per sample, and the same plus `shift`, clamped."""
    texture = _lcg_stream(seed)[: side * side * 3].astype(np.int32) % (2 * amp + 1) - amp
    src = np.clip(128 + texture, 0, 255).astype(np.uint8).reshape(side, side, 3)
    dst = np.clip(128 + texture + shift, 0, 255).astype(np.uint8).reshape(side, side, 3)
    return src, dst


def sha16(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Case:
    """One published C++ score and how to rebuild its two images (RGB, uint8)."""

    name: str
    family: str
    side: int
    cpp: float
    source: str
    generator: str
    build: Callable[[], tuple[np.ndarray, np.ndarray]]
    hashes: tuple[str, str] | None  # published SHA-256 prefixes (source, distorted), where published


def _same(img_fn: Callable[[], np.ndarray]) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    return lambda: (img_fn(), img_fn())


def published_cases() -> list[Case]:
    """Every published case, in the tables' order."""
    cases: list[Case] = []

    def table(name: str, family: str, side: int, cpp: float, build: Callable[[], tuple[np.ndarray, np.ndarray]],
              keys: tuple[str, str]) -> None:
        cases.append(Case(f"{name}_{side}x{side}", family, side, cpp, SRC_TABLE, SRC_TABLE_GEN, build,
                          (HASHES[side][keys[0]], HASHES[side][keys[1]])))

    for side in HASHES:
        table("perfect_match", "identical", side, 100.0, _same(lambda s=side: uniform(s, 128)), ("uniform",) * 2)
        for shift, cpp in UNIFORM_SHIFT[side].items():
            table(f"uniform_shift_{shift}", "uniform_shift", side, cpp,
                  lambda s=side, d=shift: (uniform(s, 128), uniform(s, 128 + d)), ("uniform", f"shift_{shift}"))
        table("gradient_h", "identical", side, 100.0, _same(lambda s=side: gradient_h(s)), ("gradient_h",) * 2)
        table("gradient_v", "identical", side, 100.0, _same(lambda s=side: gradient_v(s)), ("gradient_v",) * 2)
        for cell in (4, 8, 16):
            table(f"checkerboard_{cell}", "identical", side, 100.0,
                  _same(lambda s=side, c=cell: checkerboard(s, c)), (f"checkerboard_{cell}",) * 2)
        for seed in (42, 123, 999):
            table(f"noise_seed_{seed}", "identical", side, 100.0, _same(lambda s=side, e=seed: noise(s, e)),
                  (f"noise_{seed}",) * 2)
        table("edge_vertical", "identical", side, 100.0, _same(lambda s=side: edge_vertical(s)),
              ("edge_vertical",) * 2)
    h64 = HASHES[64]
    pairs: list[tuple[str, str, Callable[[], tuple[np.ndarray, np.ndarray]], tuple[str, str] | None]] = [
        ("gradient_vs_uniform", "synthetic_vs", lambda: (gradient_h(64), uniform(64, 128)),
         (h64["gradient_h"], h64["uniform"])),
        ("noise_vs_uniform", "synthetic_vs", lambda: (noise(64, 42), uniform(64, 128)),
         (h64["noise_42"], h64["uniform"])),
        ("gradient_vs_boxblur8x8", "distortions", lambda: (gradient_h(64), box_blur_8x8(gradient_h(64))), None),
        ("noise_vs_sharpen", "distortions", lambda: (noise(64, 999), sharpen(noise(64, 999))), None),
        ("gradient_vs_yuv_roundtrip", "distortions", lambda: (gradient_diag(64), yuv_roundtrip(gradient_diag(64))),
         None),
        ("edge_vs_boxblur8x8", "distortions", lambda: (edge_vertical(64), box_blur_8x8(edge_vertical(64))), None),
    ]
    for name, family, build, hashes in pairs:
        from_table = family == "synthetic_vs"
        cases.append(Case(f"{name}_64x64", family, 64, PAIRS_64[name], SRC_TABLE if from_table else SRC_SYNTH,
                          SRC_TABLE_GEN if from_table else SRC_SYNTH_GEN, build, hashes))
    for side, by_shift in PROBE.items():
        for shift, scores in by_shift.items():
            for amp, cpp in zip(PROBE_AMPS, scores, strict=True):
                cases.append(Case(f"textured_a{amp}_shift_{shift}_{side}x{side}", "textured", side, cpp, SRC_PROBE,
                                  SRC_PROBE_GEN, lambda s=side, a=amp, d=shift: textured_pair(s, a, d), None))
    return cases


# ------------------------------------------------------------- cross-check: the package with libjxl's rules


@functools.cache
def _recursive_gaussian(sigma: float = 1.5) -> tuple[int, np.ndarray, np.ndarray]:
    """libjxl's CreateRecursiveGaussian (Charalampidis 2016, tools/gauss_blur.cc): radius N and the three
    second-order sections' n2 and d1."""
    radius = round(3.2795 * sigma + 0.2546)
    omega = np.array([1.0, 3.0, 5.0]) * math.pi / (2.0 * radius)
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius
    d13, d35, d51 = p[0] * r[1] - r[0] * p[1], p[1] * r[2] - r[1] * p[2], p[2] * r[0] - r[2] * p[0]
    zeta15, zeta35 = d35 / d13, d51 / d13
    a = np.array([p, r, [zeta15, zeta35, 1.0]])
    beta = np.linalg.solve(a, [1.0, radius * radius - sigma * sigma, zeta15 * rho[0] + zeta35 * rho[1] + rho[2]])
    return radius, -beta * np.cos(omega * (radius + 1.0)), -2.0 * np.cos(omega)


def _recursive_gaussian_1d(x: np.ndarray, axis: int) -> np.ndarray:
    """FastGaussian1D's recurrence along `axis`: y_k[n] = n2_k (x[n-N-1] + x[n+N-1]) - d1_k y_k[n-1] - y_k[n-2],
    output the sum over k, input zero outside the image (in float64, not libjxl's float32)."""
    radius, n2, d1 = _recursive_gaussian()
    x = np.moveaxis(x, axis, 0)
    length, zero = x.shape[0], np.zeros(x.shape[1:])
    out = np.empty_like(x)
    prev, prev2 = [zero] * 3, [zero] * 3
    for n in range(-radius + 1, length):
        left, right = n - radius - 1, n + radius - 1
        total = (x[left] if left >= 0 else zero) + (x[right] if right < length else zero)
        now = [n2[k] * total - d1[k] * prev[k] - prev2[k] for k in range(3)]
        prev2, prev = prev, now
        if n >= 0:
            out[n] = now[0] + now[1] + now[2]
    return np.moveaxis(out, 0, axis)


def libjxl_rules_score(reference: np.ndarray, distorted: np.ndarray) -> float:
    """The package's arithmetic (its colour conversion, downsampling, maps and weights) with libjxl's blur and
    pyramid rule: a diagnostic of where the package's differences come from, not a reference."""
    lin1, lin2 = _s2.srgb_to_linear(reference), _s2.srgb_to_linear(distorted)
    msssim = _s2.Msssim()
    previous = lin1.shape
    for level in range(_s2.kNumScales):
        if previous[0] < 8 or previous[1] < 8:  # libjxl tests the level before, so one level more when small
            break
        if level:
            lin1, lin2 = _s2.downsample(lin1, 2, 2), _s2.downsample(lin2, 2, 2)
        previous = lin1.shape
        img1 = _s2.make_positive_xyb(_s2.linear_rgb_to_xyb(lin1))
        img2 = _s2.make_positive_xyb(_s2.linear_rgb_to_xyb(lin2))
        stacked = np.concatenate([img1, img2, img1 * img1, img2 * img2, img1 * img2], axis=2)
        blurred = _recursive_gaussian_1d(_recursive_gaussian_1d(stacked, 1), 0)
        mu1, mu2, s11, s22, s12 = np.split(blurred, 5, axis=2)
        scale = _s2.MsssimScale()
        scale.avg_ssim = _s2.ssim_map(mu1, mu2, s11, s22, s12)
        scale.avg_edgediff = _s2.edge_diff_map(img1, mu1, img2, mu2)
        msssim.scales.append(scale)
    return float(msssim.score())


# --------------------------------------------------------------------------------------------- scorers


def png_bytes(img: np.ndarray) -> bytes:
    """`img` (uint8 RGB) as a PNG file in memory: lossless, so the package reads back exactly these pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def package_png_score(reference_png: bytes, distorted_png: bytes) -> float:
    """The PyPI package's public one-pair call, `compute_ssimulacra2(file, file)`, on two PNG files in memory."""
    return float(package.compute_ssimulacra2(io.BytesIO(reference_png), io.BytesIO(distorted_png)))


def _package_scorer(reference: np.ndarray) -> Callable[[np.ndarray], float]:
    reference_png = png_bytes(reference)
    return lambda distorted: package_png_score(reference_png, png_bytes(distorted))


def _libjxl_rules_scorer(reference: np.ndarray) -> Callable[[np.ndarray], float]:
    return functools.partial(libjxl_rules_score, reference)


@dataclass(frozen=True)
class Scorer:
    """One SSIMULACRA 2 implementation: `prepare(reference)` gives a function scoring distorted versions."""

    key: str  # the results' field name
    label: str  # its name in the Markdown tables
    about: str
    prepare: Callable[[np.ndarray], Callable[[np.ndarray], float]]

    def score(self, reference: np.ndarray, distorted: np.ndarray) -> float:
        return self.prepare(reference)(distorted)


SCORERS = (
    Scorer("package", "package", "the PyPI ssimulacra2 package as published: ssimulacra2.compute_ssimulacra2 on the "
           "two images as PNG in memory (lossless)", _package_scorer),
    Scorer("iqlite", "iqlite", "iqlite.compression.metrics.ssimulacra2 (what ladders and export optimize use): the "
           "package's functions with libjxl's zero blur borders on all four sides (scipy's truncated Gaussian) "
           "and libjxl's pyramid rule", ssimulacra2_scorer),
    Scorer("libjxl_rules", "libjxl rules", "diagnostic, not a reference: the package's arithmetic with libjxl's "
           "recursive Gaussian (zero outside the image) and pyramid rule, in float64", _libjxl_rules_scorer),
)
CROSS = "libjxl_rules"  # the diagnostic the photo scores are held against (no published C++ score of a photo)
ON_PHOTOS = ("package", "iqlite")  # the scorers held against it
STEP_SCORER = "iqlite"  # whose score step between neighbouring rungs is shown

# ------------------------------------------------------------------------------------------------ runs


def _abs_stats(diffs: Sequence[float]) -> dict[str, Any]:
    if not diffs:
        return {"n": 0}
    absolute = [abs(d) for d in diffs]
    return {"n": len(diffs), "mean_abs": round(statistics.fmean(absolute), 4), "max_abs": round(max(absolute), 4),
            "mean_signed": round(statistics.fmean(diffs), 4)}


def _ranking(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Does `key` order the non-identical cases as C++ does? Kendall's tau, and the pairs C++ separates by more
    than 1 point that `key` puts the other way round."""
    if len(rows) < 2:
        return {"n": len(rows)}
    cpp, other = [r["cpp"] for r in rows], [r[key] for r in rows]
    flipped = [(a["case"], b["case"]) for i, a in enumerate(rows) for b in rows[i + 1:]
               if abs(a["cpp"] - b["cpp"]) > 1 and (a["cpp"] - b["cpp"]) * (a[key] - b[key]) < 0]
    return {"n": len(rows), "kendall_tau": round(float(kendalltau(cpp, other).statistic), 4),
            "pairs_over_1_point": sum(1 for i, a in enumerate(rows) for b in rows[i + 1:]
                                      if abs(a["cpp"] - b["cpp"]) > 1),
            "flipped_pairs_over_1_point": len(flipped), "flipped_examples": flipped[:5]}


def run_published() -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for case in published_cases():
        ref, dist = case.build()
        got = (sha16(ref), sha16(dist))
        row: dict[str, Any] = {"case": case.name, "family": case.family, "side": case.side, "cpp": case.cpp}
        for scorer in SCORERS:
            value = scorer.score(ref, dist)
            row[scorer.key], row[f"{scorer.key}_diff"] = round(value, 6), round(value - case.cpp, 6)
        row.update({"hash_published": case.hashes is not None,
                    "hash_ok": None if case.hashes is None else got == case.hashes, "hash_here": list(got),
                    "source": case.source, "generator": case.generator})
        rows.append(row)
    families = list(dict.fromkeys(r["family"] for r in rows))
    varied = [r for r in rows if r["family"] != "identical"]
    groups: dict[str, list[dict[str, Any]]] = {f: [r for r in rows if r["family"] == f] for f in families}
    groups["all non-identical"] = varied
    groups[f"non-identical, side >= {SAME_PYRAMID_SIDE} (same pyramid)"] = [
        r for r in varied if r["side"] >= SAME_PYRAMID_SIDE]
    groups[f"non-identical, side < {SAME_PYRAMID_SIDE}"] = [r for r in varied if r["side"] < SAME_PYRAMID_SIDE]
    groups["textured, side 256"] = [r for r in varied if r["family"] == "textured" and r["side"] == 256]
    summary = {name: {s.key: _abs_stats([r[f"{s.key}_diff"] for r in g]) for s in SCORERS}
               for name, g in groups.items()}
    ranking = {name: {s.key: _ranking(groups[name], s.key) for s in SCORERS}
               for name in ("all non-identical", f"non-identical, side >= {SAME_PYRAMID_SIDE} (same pyramid)")}
    identical = groups["identical"]
    return {"cases": rows, "summary": summary, "ranking": ranking,
            "identical_score_100": {s.key: sum(r[s.key] == 100.0 for r in identical) for s in SCORERS},
            "identical_cases": len(identical),
            "hashes_checked": sum(r["hash_ok"] is not None for r in rows),
            "hash_mismatches": [r["case"] for r in rows if r["hash_ok"] is False]}


def run_photos(photos: list[Path], ladder: Sequence[int]) -> dict[str, Any]:
    """The package and iqlite against the libjxl-rules cross-check on real photos at a JPEG ladder (no
    published C++ value exists). Each scorer prepares the source once, as a ladder does."""
    by_quality: dict[int, list[dict[str, float]]] = {q: [] for q in ladder}
    for path in photos:
        ref = load_rgb(path)
        prepared = {s.key: s.prepare(ref) for s in SCORERS}
        for q in ladder:
            dist = decode(encode(ref, Setting("jpeg", q)))
            by_quality[q].append({key: fn(dist) for key, fn in prepared.items()})
        print(f"  {path.name}: " + " ".join(
            f"q{q} " + "/".join(f"{by_quality[q][-1][s.key]:.2f}" for s in SCORERS) for q in ladder), flush=True)
    rows = []
    for i, q in enumerate(ladder):
        scores = by_quality[q]
        row: dict[str, Any] = {"quality": q}
        row.update({f"{s.key}_mean": round(statistics.fmean(v[s.key] for v in scores), 3) for s in SCORERS})
        row.update({f"{key}_vs_{CROSS}": _abs_stats([v[key] - v[CROSS] for v in scores]) for key in ON_PHOTOS})
        if i + 1 < len(ladder):  # the score step to the next rung, photo by photo
            steps = [b[STEP_SCORER] - a[STEP_SCORER]
                     for a, b in zip(scores, by_quality[ladder[i + 1]], strict=True)]
            row["step_to_next"] = {"scorer": STEP_SCORER, "to": ladder[i + 1],
                                   "mean": round(statistics.fmean(steps), 3), "min": round(min(steps), 3)}
        rows.append(row)
    every = [v for q in ladder for v in by_quality[q]]
    within = [v for v in every if 70 <= v[CROSS] <= 90]
    return {"photos": [p.name for p in photos], "ladder": list(ladder),
            "setting": "jpeg, 4:2:0, progressive, optimised Huffman (iqlite.compression.codecs)",
            "compared_with": CROSS, "by_quality": rows,
            "all": {key: _abs_stats([v[key] - v[CROSS] for v in every]) for key in ON_PHOTOS},
            "scores_70_to_90": {key: _abs_stats([v[key] - v[CROSS] for v in within]) for key in ON_PHOTOS}}


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


#: What is timed: (results field, what it is). The package's call includes its PNG decode, as the C++ tool's
#: includes its image decode; iqlite's calls take decoded arrays.
TIMED = (("iqlite_one_pair_s", "iqlite.compression.metrics.ssimulacra2(source, distorted)"),
         ("iqlite_prepare_reference_s", "Ssimulacra2Reference(source): the source's half, once per ladder"),
         ("iqlite_score_prepared_s", "Ssimulacra2Reference.score(distorted): each rung"),
         ("package_one_pair_s", "ssimulacra2.compute_ssimulacra2 on two in-memory PNG files"))


def run_timing(kodak: Path, livec: list[Path], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for label, path in [("Kodak", kodak), *(("LIVE-C", p) for p in livec)]:
        ref = load_rgb(path)
        dist = decode(encode(ref, Setting("jpeg", 75)))
        ref_png, dist_png = png_bytes(ref), png_bytes(dist)
        prepared = Ssimulacra2Reference(ref)
        calls: dict[str, Callable[[], object]] = {
            "iqlite_one_pair_s": lambda r=ref, d=dist: ssimulacra2(r, d),
            "iqlite_prepare_reference_s": lambda r=ref: Ssimulacra2Reference(r),
            "iqlite_score_prepared_s": lambda p=prepared, d=dist: p.score(d),
            "package_one_pair_s": lambda r=ref_png, d=dist_png: package_png_score(r, d)}
        megapixels = ref.shape[0] * ref.shape[1] / 1e6
        row: dict[str, Any] = {"photo": f"{label} {path.name}", "size": f"{ref.shape[1]}x{ref.shape[0]}",
                               "distorted": "jpeg q75", "iqlite_score": round(prepared.score(dist), 3),
                               "package_score": round(package_png_score(ref_png, dist_png), 3)}
        for key, _ in TIMED:
            row[key] = round(_median_seconds(calls[key], repeats), 4)
        for key in ("iqlite_one_pair_s", "package_one_pair_s"):
            row[f"{key}_per_megapixel"] = round(row[key] / megapixels, 3)
        rows.append(row)
        print(f"  {row}", flush=True)
    return rows


# --------------------------------------------------------------------------------------------- report


def _f(x: float, places: int = 3) -> str:
    return f"{x:.{places}f}"


def _stats_cells(stats: dict[str, Any]) -> list[str]:
    return [_f(stats["mean_abs"]), _f(stats["max_abs"]), f"{stats['mean_signed']:+.3f}"]


def markdown(results: dict[str, Any]) -> str:
    pub, photos, settings = results["published"], results["photos"], results["settings"]
    labels = {s.key: s.label for s in SCORERS}
    cross = labels[CROSS]
    lines = ["# SSIMULACRA 2 as iqlite measures it, against published C++ scores", "",
             f"Three scorers against scores printed by the C++ tool ({SRC_CPP}) for inputs rebuilt here: "
             f"{SRC_TABLE} (hashes checked: {pub['hashes_checked']} cases, mismatches: "
             f"{len(pub['hash_mismatches'])}), {SRC_SYNTH}, {SRC_PROBE}. Written by `{settings['command']}`.", "",
             f"- **package**: `ssimulacra2` {settings['package_version']} from PyPI as published, through its "
             "public `compute_ssimulacra2` (the images as PNG in memory, lossless).",
             "- **iqlite**: `iqlite.compression.metrics.ssimulacra2`, what ladders and `export optimize` use: the "
             "package's functions with libjxl's two rules put back (zero outside the image on all four sides of "
             "the blur, still scipy's truncated Gaussian; libjxl's pyramid rule).",
             f"- **{cross}**: a diagnostic, not a reference: the package's arithmetic with libjxl's recursive "
             "Gaussian and the same two rules.", "",
             "diff = scorer - C++. Identical pairs scoring exactly 100 (as in C++): " + ", ".join(
                 f"{labels[k]} {n}/{pub['identical_cases']}" for k, n in pub["identical_score_100"].items()) + ".",
             "", *markdown_header(["cases", "n", *(f"{s.label} {c}" for s in SCORERS
                                                   for c in ("mean abs", "max abs", "mean signed"))])]
    for name, by_scorer in pub["summary"].items():
        first = by_scorer[SCORERS[0].key]
        if name == "identical" or not first["n"]:
            continue
        lines.append(markdown_row([name, first["n"], *(c for s in SCORERS for c in _stats_cells(by_scorer[s.key]))]))
    lines += ["", "Ranking (non-identical cases; flipped = C++ apart by more than 1 point, other order):", "",
              *markdown_header(["cases", "n", "pairs > 1 point",
                                *(f"{s.label} {c}" for s in SCORERS for c in ("Kendall tau", "flipped"))])]
    for name, by_scorer in pub["ranking"].items():
        first = by_scorer[SCORERS[0].key]
        lines.append(markdown_row([name, first["n"], first["pairs_over_1_point"],
                                   *(c for s in SCORERS for c in (_f(by_scorer[s.key]["kendall_tau"]),
                                                                  by_scorer[s.key]["flipped_pairs_over_1_point"]))]))
    lines += ["", "Every non-identical case:", "",
              *markdown_header(["case", "C++", *(f"{s.label} {c}" for s in SCORERS for c in ("score", "diff")),
                                "hash", "source"])]
    for r in pub["cases"]:
        if r["family"] == "identical":
            continue
        hashed = "n/p" if r["hash_ok"] is None else ("ok" if r["hash_ok"] else "MISMATCH")
        lines.append(markdown_row([r["case"], _f(r["cpp"], 4),
                                   *(c for s in SCORERS for c in (_f(r[s.key], 4), f"{r[f'{s.key}_diff']:+.3f}")),
                                   hashed, r["source"].split()[0]]))
    lines += ["", f"## Real photos: the package and iqlite against the {cross} cross-check (no published C++ score)",
              "", f"{len(photos['photos'])} Kodak photos, {photos['setting']}. diff = scorer - {cross}; step = "
              f"{labels[STEP_SCORER]}'s score gain to the next rung, photo by photo (mean / smallest).", "",
              *markdown_header(["JPEG q", *(f"{s.label} mean" for s in SCORERS),
                                *(f"{labels[k]} diff {c}" for k in ON_PHOTOS
                                  for c in ("mean abs", "max abs", "mean signed")),
                                f"{labels[STEP_SCORER]} step to next (mean / min)"])]
    for r in photos["by_quality"]:
        step = r.get("step_to_next")
        lines.append(markdown_row([r["quality"], *(_f(r[f"{s.key}_mean"], 2) for s in SCORERS),
                                   *(c for k in ON_PHOTOS for c in _stats_cells(r[f"{k}_vs_{CROSS}"])),
                                   f"q{step['to']}: {_f(step['mean'], 2)} / {_f(step['min'], 2)}" if step else ""]))
    lines += ["", "All pairs, and those the cross-check scores 70-90:", "",
              *markdown_header(["pairs", "n", *(f"{labels[k]} diff {c}" for k in ON_PHOTOS
                                               for c in ("mean abs", "max abs", "mean signed"))])]
    for name, key in (("all", "all"), (f"{cross} 70-90", "scores_70_to_90")):
        group = photos[key]
        lines.append(markdown_row([name, group[ON_PHOTOS[0]]["n"],
                                   *(c for k in ON_PHOTOS for c in _stats_cells(group[k]))]))
    lines += ["", f"## Speed ({settings['cpu']}, {settings['threads']} threads allowed, load average "
              f"{settings['load_average']} at start; median of {settings['repeats']})", "",
              "iqlite's calls take decoded arrays; the package's one-pair call decodes two PNG files first (as the "
              "C++ tool decodes its inputs). A ladder of N rungs costs about prepare + N x score.", "",
              *markdown_header(["photo", "size", "iqlite one pair (s)", "iqlite prepare reference (s)",
                                "iqlite score, prepared (s)", "iqlite one pair s/MP", "package one pair (s)",
                                "package one pair s/MP"])]
    for r in results["timing"]:
        lines.append(markdown_row([r["photo"], r["size"], _f(r["iqlite_one_pair_s"]),
                                   _f(r["iqlite_prepare_reference_s"]), _f(r["iqlite_score_prepared_s"]),
                                   _f(r["iqlite_one_pair_s_per_megapixel"]), _f(r["package_one_pair_s"]),
                                   _f(r["package_one_pair_s_per_megapixel"])]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=24, help="Kodak photos for the real-photo cross-check")
    parser.add_argument("--livec", type=int, default=3, help="LIVE-C photos to time (first in sorted order)")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (the median is reported)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    kodak = list_images(KODAK)
    livec = sorted((LIVEC_DATA / "images").glob("*.jpg"))[: args.livec]
    if not kodak or not livec:
        raise SystemExit(f"need photos in {KODAK} and {LIVEC_DATA / 'images'}")
    extra = [f"--{name}={value}" for name, value, default in
             (("photos", args.photos, 24), ("livec", args.livec, 3), ("repeats", args.repeats, 5)) if value != default]
    settings = {"package_version": version("ssimulacra2"), "cpu": cpu_model(), "threads": len(os.sched_getaffinity(0)),
                "load_average": load, "repeats": args.repeats, "command": command_line("ssimulacra2_reference", *extra),
                "scorers": {s.key: s.about for s in SCORERS}, "timed": dict(TIMED)}
    print("published cases", flush=True)
    published = run_published()
    print(f"photos: {args.photos} Kodak x JPEG {LADDER}", flush=True)
    photos = run_photos(kodak[: args.photos], LADDER)
    print("timing", flush=True)
    timing = run_timing(kodak[0], livec, args.repeats)
    settings["seconds"] = round(time.perf_counter() - started, 1)
    results = {"settings": settings, "published": published, "photos": photos, "timing": timing}
    table = markdown(results)
    write_results(args.out, results, table)
    print(table)
    if published["hash_mismatches"]:
        print(f"error: rebuilt images differ from the published hashes: {published['hash_mismatches']}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
