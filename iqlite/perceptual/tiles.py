"""How a photo of any size is cut into the fixed tiles the distance model reads.

Why tiles at the photo's own resolution, not a resize: compression artefacts (blocking, ringing, lost grain)
live at the scale of single pixels, and a downscale to the model's input size would hide them. The shipped
model takes two fixed 256x256 tiles (a fixed input is what LiteRT.js and the Android app want), and the
distance of a photo is the mean of its tiles' distances.

Tiles cover the photo edge to edge: along each axis `ceil(L / T)` tiles, their starts spread evenly from 0 to
`L - T`, so neighbours overlap by a few pixels when L is not a multiple of T (those pixels count twice, a
negligible bias). A side shorter than a tile is padded by mirroring the photo, identically for the reference and
the distorted version, so the padding adds (almost) no distance. Training and scoring use this one function.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TILE", "tile_origins", "tiles"]

TILE = 256


def tile_origins(length: int, tile: int = TILE) -> list[int]:
    """Start offsets of the tiles along one axis of `length` pixels (one tile at 0 if it is shorter)."""
    if length <= tile:
        return [0]
    count = math.ceil(length / tile)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _padded(rgb: np.ndarray, tile: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    pad_y, pad_x = max(0, tile - height), max(0, tile - width)
    if not (pad_y or pad_x):
        return rgb
    return np.pad(rgb, ((0, pad_y), (0, pad_x)) + ((0, 0),) * (rgb.ndim - 2), mode="symmetric")


def tiles(rgb: np.ndarray, tile: int = TILE) -> np.ndarray:
    """(N, tile, tile, ...) tiles of an HxW[xC] array (a photo, or a map over it), row by row."""
    padded = _padded(np.asarray(rgb), tile)
    height, width = padded.shape[:2]
    return np.stack([padded[y:y + tile, x:x + tile] for y in tile_origins(height, tile)
                     for x in tile_origins(width, tile)])
