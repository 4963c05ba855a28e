"""Draw what the saliency map marks on real photos: docs/figures/saliency_kodak.png.

    python -m benchmarks.saliency_figures        # seconds; Kodak photos from ../shared/data/kodak24

Why Kodak: its photos may be reproduced freely (LIVE-C's terms ask for its notice with every copy, so no
LIVE-C photo goes into a committed figure). The grid shows six photos, chosen to include easy subjects and
scenes without one, each with its map as a heat overlay (red = salient) and, in white, the `subject_box` the
compression benchmark scores. Below it, two crops at full resolution before and after `smooth_background`:
one where the map is right, one where it smooths part of the subject, so the price can be seen, not only
measured. The PNG is palette-quantised to stay small.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import ROOT, SHARED_DATA

KODAK = SHARED_DATA / "kodak24"
DEFAULT_OUT = ROOT / "docs" / "figures" / "saliency_kodak.png"
PHOTOS = ("kodim03", "kodim15", "kodim20", "kodim23", "kodim07", "kodim13")
# (photo, (y0, y1, x0, x1) in its pixels): one crop where the map is right (hat kept, wood and wall smoothed) and
# one where it is not (the front wheels belong to the subject but score low, so they are smoothed too)
SMOOTHING_CROPS = (("kodim03", (60, 252, 0, 384)), ("kodim05", (300, 492, 0, 384)))
TILE_WIDTH = 256
CAPTION = 18  # pixels of white strip above each tile for its caption
MAX_BYTES = 400_000


def captioned(tile: np.ndarray, text: str) -> np.ndarray:
    strip = np.full((CAPTION, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, CAPTION - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)


def overlay(rgb: np.ndarray, values: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The photo, greyed where the map is low and tinted with a heat colour where it is high, and the box."""
    heat = cv2.applyColorMap((values * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
    weight = (0.25 + 0.45 * values)[..., None]
    out = (1 - weight) * rgb.astype(np.float32) + weight * heat
    y0, y1, x0, x1 = box
    out = np.clip(out, 0, 255).astype(np.uint8)
    cv2.rectangle(out, (x0 + 1, y0 + 1), (x1 - 2, y1 - 2), (255, 255, 255), 3)
    return out


def fit_width(img: np.ndarray, width: int) -> np.ndarray:
    height = round(img.shape[0] * width / img.shape[1])
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def grid_rows(tiles: list[np.ndarray], per_row: int) -> np.ndarray:
    rows = []
    for i in range(0, len(tiles), per_row):
        row = tiles[i:i + per_row]
        height = max(t.shape[0] for t in row)
        row = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in row]
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def figure(data: Path = KODAK) -> np.ndarray:
    from iqlite.perceptual.background import smooth_background, subject_box
    from iqlite.perceptual.saliency import saliency_map
    from iqlite.training.core.images import load_rgb

    tiles = []
    for name in PHOTOS:
        rgb = load_rgb(data / f"{name}.png")
        values = saliency_map(rgb)
        tiles.append(captioned(fit_width(overlay(rgb, values, subject_box(values)), TILE_WIDTH), f"{name}"))
    top = grid_rows(tiles, 3)
    pairs = []
    for name, (y0, y1, x0, x1) in SMOOTHING_CROPS:
        rgb = load_rgb(data / f"{name}.png")
        smoothed = smooth_background(rgb, saliency_map(rgb))
        pair = np.concatenate([captioned(rgb[y0:y1, x0:x1], f"{name} 1:1, as taken"),
                               captioned(smoothed[y0:y1, x0:x1], "smooth_background, strength 1")], axis=1)
        pairs.append(fit_width(pair, top.shape[1]) if pair.shape[1] != top.shape[1] else pair)
    gap = np.full((6, top.shape[1], 3), 255, np.uint8)
    return np.concatenate([top, gap, pairs[0], gap, pairs[1]], axis=0)


def save_small_png(img: np.ndarray, out: Path) -> int:
    """A palette PNG (256 colours, dithered): a fraction of a true-colour PNG's size, fine for a figure."""
    import io

    from PIL import Image

    from iqlite.training.core import atomic

    buffer = io.BytesIO()
    Image.fromarray(img).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(out, buffer.getvalue())
    return len(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=KODAK, help="the Kodak folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    size = save_small_png(figure(args.data), args.out)
    print(f"wrote {args.out} ({size / 1000:.0f} KB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out} is {size} bytes, over the {MAX_BYTES} the docs allow: make the tiles smaller")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
