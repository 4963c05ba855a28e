"""Rendered text photos with known text: the labelled data of the OCR task.

A photo of a receipt, a label or a page is drawn from its seed alone: the text (receipt lines, label fields,
wrapped paragraphs), the font (from Debian's font packages), the size, the paper (tint, blotches, grain), the
ink, and then the "camera": the sheet placed on a desk, slightly rotated and in perspective, with uneven
light. The exact text drawn is the ground truth OCR is measured against.

Held-out documents (the benchmark's) differ from training ones in both ways that matter for generalisation:
their fonts are families that training never sees (`HELD_OUT_FAMILIES`), and their words come from a part
of the vocabulary training never draws from (every fourth word of `WORDS`), so a metrifier cannot learn
what a particular font or text looks like when it is read well.

TensorFlow-free: only numpy, OpenCV and Pillow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from iqlite.training.core.errors import InputError

__all__ = ["FONT_DIRS", "HELD_OUT_FAMILIES", "LAYOUTS", "Document", "FontFile", "available_fonts", "fonts_for",
           "render_document", "vocabulary"]

FONT_DIRS: tuple[Path, ...] = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
#: Families only held-out documents use (fonts-crosextra-carlito, fonts-freefont-ttf, fonts-liberation).
HELD_OUT_FAMILIES: frozenset[str] = frozenset({"Carlito", "FreeSerif", "LiberationMono"})
#: Font files that are not text faces for documents (symbols, maths) or too thin to be a fair test.
_EXCLUDED_WORDS = ("Math", "ExtraLight", "CondLight", "Symbol", "Emoji")
_SLANTED = ("Italic", "Oblique")
LAYOUTS: tuple[str, ...] = ("receipt", "label", "paragraph")

# Common English words (plus a few shop and label words): real words, because Tesseract's LSTM has a
# language model, and a metrifier trained on letter soup would learn the wrong accuracy.
WORDS: tuple[str, ...] = tuple("""
the of and to in is was for on that with as by at from his her they this which be are have had not but one
all were when we there can an your which their said if do will each about how up out them then she many some
so these would other into has more two like him see time could no make than first been its who now people my
made over did down only way find use may water long little very after words called just where most know get
through back much before go good new write our used me man too any day same right look think also around another
came come work three word must because does part even place well such here take why things help put years
different away again off went old number great tell men say small every found still between name should home
big give air line set own under read last never us left end along while might next sound below saw something
thought both few those always looked show large often together asked house world going want school important
until form food keep children feet land side without boy once animals life enough took sometimes four head
above kind began almost live page got earth need far hand high year mother light parts country father let night
following picture being study second eyes soon times story boys since white days ever paper hard near sentence
better best across during today others however sure means knew try told young miles sun ways thing whole hear
example heard several change answer room sea against top turned learn point city play toward five using himself
usually money seen car morning given table order price total cash change milk bread coffee tea sugar butter eggs
cheese apple orange rice pasta soap paper towel water juice salad chicken beef fish lemon honey flour salt pepper
oil sauce cream yogurt cereal tomato onion garlic potato carrot banana grape melon peach pear cookie cake
""".split())
_STREETS = ("MAIN ST", "HIGH ST", "OAK AVE", "PARK RD", "MARKET SQ", "RIVER LN", "STATION RD", "MILL WAY")
_COUNTRIES = ("GERMANY", "FRANCE", "ITALY", "SPAIN", "CANADA", "JAPAN", "MEXICO", "POLAND", "PORTUGAL")
_SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class FontFile:
    path: Path
    family: str  # from the file name, e.g. "LiberationSans" (what the held-out split is made of)
    monospace: bool


@dataclass
class Document:
    """One rendered text photo: the pixels, the text drawn, and how it was drawn."""

    image: np.ndarray  # HxWx3 uint8 RGB
    text: str  # the ground truth: lines joined by "\n"
    layout: str
    font: str  # font file name
    text_px: float  # height of a capital letter in the photo, in pixels (the degradations scale with it)
    meta: dict = field(default_factory=dict)


def vocabulary(held_out: bool) -> tuple[str, ...]:
    """The words a document may use: every fourth word for held-out documents, the other three for training."""
    return tuple(w for i, w in enumerate(dict.fromkeys(WORDS)) if (i % 4 == 0) == held_out)


def _family(path: Path) -> str:
    """The family of a font file from its name: "FreeSerifBold.ttf" and "FreeSerif.ttf" are both FreeSerif."""
    base = path.stem.split("-")[0].replace("Condensed", "")
    return re.sub(r"(Bold|Italic|Oblique)+$", "", base) or base


@functools.lru_cache(maxsize=4)
def available_fonts(font_dirs: tuple[Path, ...] = FONT_DIRS) -> tuple[FontFile, ...]:
    """Every usable .ttf/.otf text face under `font_dirs`, sorted by path (so seeds pick the same font)."""
    found = []
    for folder in font_dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf") or any(w in path.name for w in _EXCLUDED_WORDS):
                continue
            family = _family(path)
            mono = "Mono" in path.name or "Courier" in path.name
            found.append(FontFile(path, family, mono))
    return tuple(found)


def fonts_for(held_out: bool, font_dirs: tuple[Path, ...] = FONT_DIRS) -> tuple[FontFile, ...]:
    """The fonts of training (or held-out) documents; InputError naming the packages when there are none.

    When none of `HELD_OUT_FAMILIES` is installed, one family in three (by sorted name) is held out instead,
    so the split stays font-disjoint on any machine with at least two families.
    """
    fonts = available_fonts(font_dirs)
    if not fonts:
        raise InputError(f"no fonts under {', '.join(map(str, font_dirs))}: install fonts-dejavu-core "
                         "fonts-liberation (bash scripts/system_packages.sh)")
    families = sorted({f.family for f in fonts})
    held = set(HELD_OUT_FAMILIES) & set(families)
    if not held:
        held = set(families[2::3]) if len(families) > 1 else set()
    chosen = tuple(f for f in fonts if (f.family in held) == held_out)
    if not chosen:
        chosen = fonts  # one family only: the split cannot be font-disjoint (tests on a bare machine)
    return chosen


# --- text --------------------------------------------------------------------------------------------------

def _serial(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(_SERIAL_CHARS), size=n))


def _receipt_lines(rng: np.random.Generator, words: tuple[str, ...]) -> list[tuple[str, str]]:
    """(left, right) pairs: the right part is drawn right-aligned (prices)."""
    shop = " ".join(rng.choice(words, size=2)).upper()
    lines = [(shop, ""), (f"{int(rng.integers(1, 999))} {rng.choice(_STREETS)}", "")]
    lines.append((f"{int(rng.integers(2019, 2031))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}",
                  f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"))
    total = 0.0
    for _ in range(int(rng.integers(3, 7))):
        price = float(rng.integers(49, 2999)) / 100
        total += price
        item = " ".join(rng.choice(words, size=int(rng.integers(1, 3)))).upper()
        lines.append((item, f"{price:.2f}"))
    lines.append(("TOTAL", f"{total:.2f}"))
    if rng.random() < 0.5:
        lines.append((f"CARD {int(rng.integers(1000, 9999))}", ""))
    return lines


def _label_lines(rng: np.random.Generator, words: tuple[str, ...]) -> list[tuple[str, str]]:
    name = " ".join(w.capitalize() for w in rng.choice(words, size=2))
    lines = [(name, ""), (f"SN: {_serial(rng, 4)}-{_serial(rng, 4)}", ""),
             (f"LOT {_serial(rng, 5)}", f"EXP {int(rng.integers(1, 13)):02d}/{int(rng.integers(2026, 2032))}")]
    if rng.random() < 0.6:
        lines.append((f"MADE IN {rng.choice(_COUNTRIES)}", ""))
    if rng.random() < 0.5:
        lines.append((f"{int(rng.integers(50, 999))} g", f"{float(rng.integers(99, 4999)) / 100:.2f}"))
    return lines


def _paragraph_words(rng: np.random.Generator, words: tuple[str, ...], count: int) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        sentence = list(rng.choice(words, size=int(rng.integers(4, 11))))
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += "." if rng.random() < 0.8 else ","
        out.extend(sentence)
    return out[:count]


def _wrap(words: list[str], font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    lines, current = [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if font.getlength(trial) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
            if len(lines) == max_lines:
                break
    if current and len(lines) < max_lines:
        lines.append(current)
    return lines


# --- drawing -----------------------------------------------------------------------------------------------

def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-ish low-frequency noise (blotches of about `scale` pixels)."""
    small = (max(2, int(shape[0] / scale)), max(2, int(shape[1] / scale)))
    field_ = rng.standard_normal(small).astype(np.float32)
    return cv2.resize(field_, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _paper(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    tint = np.array([rng.uniform(228, 252), rng.uniform(226, 250), rng.uniform(215, 246)], np.float32)
    blotch = _smooth_noise(rng, (height, width), rng.uniform(40, 120)) * rng.uniform(1.5, 6.0)
    grain = rng.standard_normal((height, width)).astype(np.float32) * rng.uniform(0.8, 3.0)
    return tint[None, None, :] + (blotch + grain)[..., None]


def _ink(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.2:  # blue ballpoint / stamp ink
        return int(rng.integers(10, 50)), int(rng.integers(20, 70)), int(rng.integers(90, 160))
    grey = int(rng.integers(5, 70))
    return grey, grey, grey


def _draw_lines(canvas: Image.Image, lines: list[tuple[str, str]], font: ImageFont.FreeTypeFont, margin: int,
                spacing: float, ink: tuple[int, int, int], centre_first: bool) -> list[str]:
    """Draw (left, right) lines top to bottom; returns the text as OCR should read it, line by line."""
    draw = ImageDraw.Draw(canvas)
    ascent, descent = font.getmetrics()
    step = int((ascent + descent) * spacing)
    y = margin
    text_lines = []
    for i, (left, right) in enumerate(lines):
        if y + ascent + descent > canvas.height - margin // 2:
            break
        x = margin
        if i == 0 and centre_first:
            x = max(margin, int((canvas.width - font.getlength(left)) / 2))
        draw.text((x, y), left, font=font, fill=ink)
        if right:
            draw.text((canvas.width - margin - font.getlength(right), y), right, font=font, fill=ink)
        text_lines.append(f"{left} {right}".strip())
        y += step
    return text_lines


def _place_in_photo(rng: np.random.Generator, sheet: np.ndarray, width: int,
                    height: int) -> tuple[np.ndarray, float]:
    """The sheet on a desk, as a hand-held camera sees it: rotation, perspective, uneven light. Returns the
    photo and the sheet's scale in it."""
    bg_colour = np.array(rng.uniform(40, 200, size=3), np.float32)
    background = bg_colour[None, None, :] + (_smooth_noise(rng, (height, width), 60) * 12)[..., None]
    sh, sw = sheet.shape[:2]
    fill = rng.uniform(0.82, 0.96)
    scale = min(width * fill / sw, height * fill / sh)
    cx, cy = width / 2 + rng.uniform(-0.03, 0.03) * width, height / 2 + rng.uniform(-0.03, 0.03) * height
    angle = np.deg2rad(rng.uniform(-3.0, 3.0))
    corners = np.array([[-sw / 2, -sh / 2], [sw / 2, -sh / 2], [sw / 2, sh / 2], [-sw / 2, sh / 2]]) * scale
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    jitter = rng.uniform(-0.025, 0.025, size=(4, 2)) * np.array([width, height])
    target = (corners @ rot.T + np.array([cx, cy]) + jitter).astype(np.float32)
    source = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(sheet, matrix, (width, height), flags=cv2.INTER_AREA if scale < 1 else
                                 cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpPerspective(np.ones((sh, sw), np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    photo = background * (1 - mask[..., None]) + warped * mask[..., None]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, size=2)
    light = 1.0 - rng.uniform(0.0, 0.25) * ((gx * (xx / width - 0.5) + gy * (yy / height - 0.5)) + 0.5)
    vignette = 1.0 - rng.uniform(0.0, 0.2) * (((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2) * 2)
    return np.clip(photo * (light * vignette)[..., None], 0, 255).round().astype(np.uint8), float(scale)


def render_document(seed: int, held_out: bool = False, layout: str | None = None,
                    font_dirs: tuple[Path, ...] = FONT_DIRS) -> Document:
    """The text photo of `seed` (same seed, same pixels and text); held-out fonts and words with `held_out`."""
    rng = np.random.default_rng([seed, 1 if held_out else 0, 17])
    layout = layout or str(rng.choice(LAYOUTS, p=[0.4, 0.25, 0.35]))
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    fonts = fonts_for(held_out, font_dirs)
    if layout == "receipt":
        mono = [f for f in fonts if f.monospace]
        pool = mono if mono and rng.random() < 0.6 else fonts
    else:
        pool = fonts
    upright = [f for f in pool if not any(w in f.path.name for w in _SLANTED)]
    if upright and rng.random() < 0.7:  # most documents are set in upright faces; italics stay a minority
        pool = upright
    font_file = pool[int(rng.integers(len(pool)))]
    words = vocabulary(held_out)
    size = {"receipt": (17, 30), "label": (22, 44), "paragraph": (16, 30)}[layout]
    font_px = int(rng.integers(*size))
    font = ImageFont.truetype(str(font_file.path), font_px)
    portrait = layout == "receipt"
    width, height = (480, 640) if portrait else (640, 480)
    sheet_w = int(width * rng.uniform(0.85, 1.0)) if not portrait else int(width * rng.uniform(0.8, 0.95))
    margin = int(font_px * rng.uniform(0.8, 1.6))
    ink = _ink(rng)
    spacing = rng.uniform(1.15, 1.6)
    if layout == "paragraph":
        ascent, descent = font.getmetrics()
        max_lines = int(rng.integers(3, 9))
        lines = [(t, "") for t in _wrap(_paragraph_words(rng, words, 120), font, sheet_w - 2 * margin, max_lines)]
        sheet_h = int(2 * margin + len(lines) * (ascent + descent) * spacing)
    else:
        lines = _receipt_lines(rng, words) if layout == "receipt" else _label_lines(rng, words)
        ascent, descent = font.getmetrics()
        sheet_h = int(2 * margin + len(lines) * (ascent + descent) * spacing)
        widest = max(font.getlength(f"{a}    {b}") for a, b in lines) + 2 * margin
        sheet_w = int(max(sheet_w * 0.6, min(widest * rng.uniform(1.0, 1.25), width * 1.3)))
    sheet_h = max(sheet_h, int(sheet_w * 0.3))
    paper = _paper(rng, sheet_w, sheet_h)
    canvas = Image.fromarray(np.clip(paper, 0, 255).round().astype(np.uint8))
    text_lines = _draw_lines(canvas, lines, font, margin, spacing, ink, centre_first=layout != "paragraph")
    image, scale = _place_in_photo(rng, np.asarray(canvas, np.float32), width, height)
    cap_height = font.getbbox("H")[3] - font.getbbox("H")[1]
    return Document(image=image, text="\n".join(text_lines), layout=layout, font=font_file.path.name,
                    text_px=float(cap_height * scale), meta={"font_px": font_px, "scale": round(scale, 4),
                                                             "held_out": held_out, "seed": seed})
