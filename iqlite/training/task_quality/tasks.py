"""Tasks a metrifier can learn to predict: given an image and its ground truth, an error in [0, 1].

The core (dataset building, the metrifier, the export) knows a task only through the `Task` protocol: it
makes labelled samples (`make_sample`: an image and the answer the task network should give) and measures
the task network's error on any version of that image (`evaluate`). Two real tasks are built in:

- `OcrTask`: Tesseract 5's LSTM engine (`--oem 1`, Debian's `tesseract-ocr` with the English model, driven
  through pytesseract), error = character error rate (Levenshtein distance over the truth's length, from
  rapidfuzz) clipped to [0, 1], after collapsing runs of whitespace (a receipt's column gap is one space to
  OCR). Page segmentation mode 6 (one uniform block of text) reads receipt lines as lines, where the
  automatic mode splits prices into a column of their own and reorders the text.
- `QrTask`: OpenCV's QR detector; error = 1 - similarity of the decoded string to the encoded one (0 when
  decoded exactly, 1 when nothing is found). It shows the core is task-agnostic: only this class differs.

TensorFlow-free. In the data set's worker processes Tesseract runs one thread per call (`OMP_THREAD_LIMIT=1`,
set by `dataset`): parallelism comes from the processes, which is faster than Tesseract's own threads on small
images.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein

from iqlite.training.core.errors import UserError
from iqlite.training.task_quality.documents import render_document

__all__ = ["OcrTask", "QrTask", "Sample", "TASKS", "Task", "TaskResult", "TesseractMissingError",
           "character_error_rate", "get_task", "normalise_text"]


class TesseractMissingError(UserError, RuntimeError):
    """Tesseract (or its English model) is not installed; the message says how to install it."""


@dataclass
class Sample:
    """A labelled image of a task: the pixels, the right answer, and the facts degradations need."""

    image: np.ndarray  # HxWx3 uint8 RGB
    truth: str
    text_px: float  # size of the smallest detail that matters (capital height; a QR module), pixels
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    error: float  # in [0, 1]: 0 = the task network got it right
    output: str  # what the task network answered


@runtime_checkable
class Task(Protocol):
    """What the core needs of a task: a name, what its score means, labelled samples, and the error."""

    name: str
    score_meaning: str

    def make_sample(self, seed: int, held_out: bool = False) -> Sample: ...

    def evaluate(self, image: np.ndarray, truth: str) -> TaskResult: ...


def normalise_text(text: str) -> str:
    """Whitespace runs (spaces, tabs, line ends) as single spaces, ends stripped."""
    return re.sub(r"\s+", " ", text).strip()


def character_error_rate(truth: str, output: str) -> float:
    """Levenshtein distance (insertions, deletions, substitutions) over the truth's length, clipped to [0, 1]."""
    truth, output = normalise_text(truth), normalise_text(output)
    if not truth:
        return 0.0 if not output else 1.0
    return float(min(1.0, Levenshtein.distance(truth, output) / len(truth)))


class OcrTask:
    """Tesseract 5 LSTM on rendered text photos (`documents.render_document`); error = CER."""

    name = "ocr"
    score_meaning = "predicted OCR accuracy (1 - character error rate of Tesseract 5 LSTM), 0-1, higher is better"
    config = "--oem 1 --psm 6"

    def __init__(self, language: str = "eng") -> None:
        self.language = language
        self._checked = False

    def check(self) -> None:
        """Fail early, with the fix, when Tesseract or its language model is missing."""
        if self._checked:
            return
        import pytesseract

        if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
            raise TesseractMissingError("tesseract is not installed: run `bash scripts/system_packages.sh` (Debian "
                                        "packages tesseract-ocr and tesseract-ocr-eng)")
        try:
            languages = pytesseract.get_languages(config="")
        except pytesseract.TesseractError as err:
            raise TesseractMissingError(f"tesseract does not run: {err}") from err
        if self.language not in languages:
            raise TesseractMissingError(f"tesseract has no {self.language!r} model (has {', '.join(languages)}): "
                                        f"install tesseract-ocr-{self.language}")
        self._checked = True

    def make_sample(self, seed: int, held_out: bool = False) -> Sample:
        doc = render_document(seed, held_out)
        return Sample(doc.image, doc.text, doc.text_px, {"layout": doc.layout, "font": doc.font, **doc.meta})

    def read(self, image: np.ndarray) -> str:
        import pytesseract

        self.check()
        return pytesseract.image_to_string(image, lang=self.language, config=self.config)

    def evaluate(self, image: np.ndarray, truth: str) -> TaskResult:
        output = self.read(image)
        return TaskResult(character_error_rate(truth, output), normalise_text(output))


class QrTask:
    """OpenCV's QR-code detector on QR labels (a serial or a URL); error = 1 - normalised similarity."""

    name = "qr"
    score_meaning = "predicted QR decoding success (1 - error of OpenCV's QR detector), 0-1, higher is better"

    def make_sample(self, seed: int, held_out: bool = False) -> Sample:
        rng = np.random.default_rng([seed, 1 if held_out else 0, 23])
        chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        payload = ("https://ex.example/" if rng.random() < 0.5 else "SN-") + "".join(
            rng.choice(list(chars), size=int(rng.integers(8, 24))))
        code = cv2.QRCodeEncoder.create().encode(payload)  # one pixel per module, white border included
        module = int(rng.integers(4, 9))
        code = cv2.resize(code, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)
        size = 480
        background = np.full((size, size, 3), rng.uniform(120, 220, size=3), np.float32)
        background += (rng.standard_normal((size, size, 1)) * 3).astype(np.float32)
        h, w = code.shape
        if h > size - 20:
            code = cv2.resize(code, (size - 20, size - 20), interpolation=cv2.INTER_AREA)
            h, w = code.shape
            module = (size - 20) / (h / module)
        top, left = int(rng.integers(10, size - h - 9)), int(rng.integers(10, size - w - 9))
        paper = rng.uniform(225, 250)
        patch = np.where(code[..., None] > 127, paper, rng.uniform(5, 50)).astype(np.float32)
        background[top:top + h, left:left + w] = patch
        image = np.clip(background, 0, 255).round().astype(np.uint8)
        return Sample(image, payload, float(module), {"module_px": float(module)})

    def evaluate(self, image: np.ndarray, truth: str) -> TaskResult:
        decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        decoded = decoded or ""
        if not decoded:
            return TaskResult(1.0, "")
        return TaskResult(float(Levenshtein.normalized_distance(truth, decoded)), decoded)


TASKS: dict[str, type] = {"ocr": OcrTask, "qr": QrTask}


def get_task(name: str) -> Task:
    """The built-in task called `name` (UserError listing the choices otherwise)."""
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return TASKS[name]()
