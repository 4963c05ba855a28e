"""Golden images and their expected int8 outputs: the numbers every runtime must reproduce exactly.

A change anywhere between a photo file and its stars (decoding, orientation, resizing, the export graph,
quantization, the runtime) changes a score silently unless something pins it. These images are drawn from
formulas (no random generator, no files to download), saved as lossless PNG so every decoder gives the same
pixels, and in sizes and aspect ratios that make the resize do real work. For each, the record keeps:

- `pixels_sha256`: the decoded pixels (catches a change in the drawing code itself);
- `input_sha256`: the preprocessed model input at the model's size (catches a preprocessing change);
- `raw_output` and `score`: the model's uint8 output and its 0–5 score (catches an export/runtime change).

The Python test regenerates the images and checks all three against the record written for the shipped
model; the Android and web demos check the same raw outputs on the same images.

    python -m export golden --model android_demo/app/src/main/assets/iqlite.tflite --out tests/golden/iqlite.json
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.atomic import write_json
from iqlite.training.core.images import load_for_model, load_rgb

__all__ = ["DISTANCE_PAIRS", "GOLDEN_IMAGES", "TASK_GOLDEN_IMAGES", "distance_golden_record", "golden_record", "scene",
           "task_golden_record", "text_photo", "write_golden_images"]


def scene(width: int = 640, height: int = 480) -> Image.Image:
    """A sharp, colourful 'photo': smooth light falloff, a textured floor, an object with hard edges."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    sky = np.stack([0.35 + 0.4 * v, 0.55 + 0.3 * v, 0.9 - 0.2 * v], axis=-1)
    floor = 0.5 + 0.25 * np.sin(2 * np.pi * (u * 23 + v * 5)) * np.sin(2 * np.pi * v * 31)
    floor_rgb = np.stack([0.55 * floor + 0.2, 0.45 * floor + 0.15, 0.3 * floor + 0.1], axis=-1)
    rgb = np.where((v > 0.6)[..., None], floor_rgb, sky)
    light = 1.0 - 0.35 * ((u - 0.3) ** 2 + (v - 0.2) ** 2)
    img = Image.fromarray(np.clip(rgb * light[..., None] * 255, 0, 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(img)
    w, h = width, height
    draw.ellipse([0.38 * w, 0.25 * h, 0.68 * w, 0.75 * h], fill=(200, 40, 50), outline=(20, 10, 10), width=4)
    draw.rectangle([0.1 * w, 0.45 * h, 0.28 * w, 0.8 * h], fill=(240, 220, 60), outline=(30, 30, 30), width=3)
    for i in range(12):  # fine lines: detail that blur destroys
        x0 = int(0.75 * w + i * 0.018 * w)
        draw.line([x0, 0.3 * h, x0 + 0.05 * w, 0.9 * h], fill=(15, 15, 15) if i % 2 else (250, 250, 250), width=2)
    return img


def _blurred(img: Image.Image) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius=img.width / 80))


def _dark(img: Image.Image) -> Image.Image:
    return Image.fromarray((np.asarray(img, dtype=np.float64) * 0.12).round().astype(np.uint8))


def _overexposed(img: Image.Image) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) * 2.6 + 40, 0, 255).round().astype(np.uint8))


def _noisy(img: Image.Image) -> Image.Image:
    """Strong pseudo-random noise from integer hashing of the pixel position (same on every machine)."""
    h, w = img.height, img.width
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    noise = ((x * 73856093) ^ (y * 19349663)) % 1009 / 1009.0 - 0.5
    channels = np.stack([noise, np.roll(noise, 7, axis=1), np.roll(noise, 13, axis=0)], axis=-1)
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + channels * 120, 0, 255).round().astype(np.uint8))


def _low_contrast(img: Image.Image) -> Image.Image:
    a = np.asarray(img, dtype=np.float64)
    return Image.fromarray((128 + (a - 128) * 0.2).round().astype(np.uint8))


#: name -> how it is drawn. Landscape, portrait and square sizes, none equal to a model input size.
GOLDEN_IMAGES: dict[str, Callable[[], Image.Image]] = {
    "sharp_landscape": lambda: scene(640, 480),
    "sharp_portrait": lambda: scene(360, 540),
    "blurred": lambda: _blurred(scene(640, 480)),
    "dark": lambda: _dark(scene(640, 480)),
    "overexposed": lambda: _overexposed(scene(640, 480)),
    "noisy": lambda: _noisy(scene(500, 500)),
    "low_contrast": lambda: _low_contrast(scene(640, 480)),
}


#: The perceptual distance's golden pairs: the sharp landscape against each same-size version of it (and itself).
DISTANCE_PAIRS: tuple[str, ...] = ("sharp_landscape", "blurred", "dark", "overexposed", "low_contrast")


def distance_golden_record(model_path: str | os.PathLike, images_dir: str | os.PathLike) -> dict:
    """Raw int8 outputs per tile, distance and quality of the distance model on `DISTANCE_PAIRS`."""
    from iqlite.export.distance import DistanceScorer
    from iqlite.perceptual.tiles import tiles

    scorer = DistanceScorer(model_path)
    reference = load_rgb(Path(images_dir) / f"{DISTANCE_PAIRS[0]}.png")
    record: dict = {"model": Path(model_path).name, "model_sha256": _sha256(Path(model_path).read_bytes()),
                    "tile": scorer.tile, "reference": DISTANCE_PAIRS[0], "pairs": {}}
    for name in DISTANCE_PAIRS:
        distorted = load_rgb(Path(images_dir) / f"{name}.png")
        raw = [scorer.raw_tile_outputs(r, d) for r, d in zip(tiles(reference, scorer.tile),
                                                             tiles(distorted, scorer.tile), strict=True)]
        distance, quality = scorer.score(reference, distorted)
        record["pairs"][name] = {"raw_distance": [int(d.reshape(-1)[0]) for d, _ in raw],
                                 "map_sha256": _sha256(b"".join(m.tobytes() for _, m in raw)),
                                 "distance": round(distance, 5), "quality": round(quality, 3)}
    return record


def text_photo(width: int = 640, height: int = 480, size: int = 22) -> Image.Image:
    """A sharp 'document photo' for the task-quality (OCR) model: lines of text on paper on a desk.

    The text is set in Pillow's embedded default font (the same glyphs wherever the pinned Pillow runs, unlike
    the system's fonts), so the pixels are the same on every machine.
    """
    img = Image.new("RGB", (width, height), (96, 84, 70))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0.06 * width, 0.08 * height, 0.94 * width, 0.92 * height], fill=(242, 240, 232))
    font = ImageFont.load_default(size=size)
    lines = ("RECEIPT 0421  2026-03-14", "MILK 2L            2.49", "BREAD RYE          3.10",
             "COFFEE BEANS      11.95", "TOTAL             17.54", "SN: 7XK4-29Q1  LOT 2291B")
    for i, line in enumerate(lines):
        draw.text((0.1 * width, 0.13 * height + i * size * 1.6), line, font=font, fill=(20, 20, 24))
    return img


#: The task-quality model's golden images: a text photo and the damage that decides whether OCR can read it.
TASK_GOLDEN_IMAGES: dict[str, Callable[[], Image.Image]] = {
    "text_sharp": lambda: text_photo(),
    "text_small": lambda: text_photo(480, 640, 12),
    "text_blurred": lambda: text_photo().filter(ImageFilter.GaussianBlur(radius=3)),
    "text_noisy": lambda: _noisy(text_photo()),
    "text_dark": lambda: _dark(text_photo()),
    "text_low_contrast": lambda: _low_contrast(text_photo()),
    "sharp_landscape": lambda: scene(640, 480),
}


def task_golden_record(model_path: str | os.PathLike, images_dir: str | os.PathLike) -> dict:
    """Raw uint8 outputs (accuracy, distortion probabilities), score and family of a task model on
    `TASK_GOLDEN_IMAGES` (drawn into `images_dir` first)."""
    from iqlite.export.task_runner import TaskScorer

    out = Path(images_dir)
    out.mkdir(parents=True, exist_ok=True)
    scorer = TaskScorer(model_path)
    record: dict = {"model": Path(model_path).name, "model_sha256": _sha256(Path(model_path).read_bytes()),
                    "image_size": scorer.image_size, "labels": scorer.labels, "documents": {}}
    for name, draw in TASK_GOLDEN_IMAGES.items():
        path = out / f"{name}.png"
        draw().save(path, format="PNG")
        pixels = load_rgb(path)
        model_input = load_for_model(path, scorer.image_size)
        raw_score, raw_labels = scorer.raw_outputs(model_input)
        found = scorer.predict_array(model_input)
        record["documents"][name] = {"file": path.name, "pixels_sha256": _sha256(pixels.tobytes()),
                                     "input_sha256": _sha256(model_input.tobytes()), "raw_score": raw_score,
                                     "raw_distortion": raw_labels, "score": round(found.score, 5),
                                     "distortion": found.distortion}
    return record


def write_golden_images(out_dir: str | os.PathLike) -> list[Path]:
    """Draw every golden image into `out_dir` as `<name>.png`; returns the paths in `GOLDEN_IMAGES` order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in GOLDEN_IMAGES.items():
        path = out / f"{name}.png"
        draw().save(path, format="PNG")
        paths.append(path)
    return paths


def golden_record(model_path: str | os.PathLike, images_dir: str | os.PathLike) -> dict:
    """Expected pixels, model inputs and int8 outputs of the golden images under `model_path`."""
    from iqlite.training.flaws.model_flaws import reasons_from_statistics

    scorer = TFLiteScorer(model_path)
    record: dict = {"model": Path(model_path).name, "model_sha256": _sha256(Path(model_path).read_bytes()),
                    "image_size": scorer.image_size, "output_scale": scorer.output_scale,
                    "output_zero_point": scorer.output_zero_point, "images": {}}
    for name in GOLDEN_IMAGES:
        path = Path(images_dir) / f"{name}.png"
        pixels = load_rgb(path)
        model_input = load_for_model(path, scorer.image_size)
        raw = scorer.raw_output(model_input)
        record["images"][name] = {
            "file": path.name, "width": pixels.shape[1], "height": pixels.shape[0],
            "pixels_sha256": _sha256(pixels.tobytes()), "input_sha256": _sha256(model_input.tobytes()),
            "raw_output": raw, "score": round(scorer.dequantize(raw), 4),
        }
        if scorer.has_flaw_statistics:  # what every app must read from output 1, and the reasons it names
            _, flaw_raw, statistics = scorer.score_and_flaws(model_input)
            record["images"][name]["flaw_raw"] = [int(q) for q in flaw_raw]
            record["images"][name]["reasons"] = [r.code for r in reasons_from_statistics(statistics, scorer.flaw_spec)]
    return record


def write_golden_record(model_path: str | os.PathLike, out_json: str | os.PathLike,
                        images_dir: str | os.PathLike) -> dict:
    """Draw the images into `images_dir`, record the model's outputs, write the record atomically."""
    from iqlite.export.task_runner import is_task_model

    if is_task_model(model_path):  # the task-quality models have their own golden images (text photos)
        record = task_golden_record(model_path, images_dir)
        write_json(out_json, record)
        return record
    write_golden_images(images_dir)
    record = (distance_golden_record if _is_distance_model(model_path) else golden_record)(model_path, images_dir)
    write_json(out_json, record)
    return record


def _is_distance_model(model_path: str | os.PathLike) -> bool:
    """Two inputs: the perceptual distance (reference, distorted); one: a photo scorer."""
    from ai_edge_litert.interpreter import Interpreter

    return len(Interpreter(model_path=str(model_path)).get_input_details()) == 2


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
