"""Training recipes as plain Python: one full recipe, and the same recipe shrunk to a smoke run.

Following big_vision's `runlocal` idea, `TrainConfig.smoke()` is the full recipe with tiny sizes and step
counts, so tests and the demo exercise the exact code path the benchmark uses.

Full recipe on LIVE-C (656 photos per cross-validation fold) on a 2-core CPU: 5–11 minutes per run at 384 px.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from training.regressor.model_spec import ModelSpec, known_settings


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; saved as config.json in the run folder and checked on resume."""

    image_size: int = 384  # photos are resized to this square once; scoring uses the same size
    crop_fraction: float = 0.875  # training sees random crops of this side fraction (no rescaling)
    batch_size: int = 16
    ridge_penalties: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)  # phase 1 head, picked on val
    fine_tune_epochs: int = 12  # phase 2: top blocks unfrozen (BatchNormalization stays frozen)
    fine_tune_lr: float = 5e-5
    fine_tune_from: str = "block_13_expand"
    patience: int = 6  # stop a phase after this many epochs without a better validation SRCC
    val_fraction: float = 0.15
    # Below this many validation photos their SRCC is too noisy to choose the ridge penalty or to fit the spread
    # calibration alone (standard error ~0.15 at 30 photos): the penalty is then cross-validated on the training
    # photos, and the calibration is fitted on training and validation photos together (see regressor/train.py).
    min_validation_photos: int = 80
    seed: int = 0
    weights: str = "imagenet"  # "imagenet", "none" or a path to an .h5 file
    deterministic: bool = True
    model: ModelSpec = field(default_factory=ModelSpec)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        d["ridge_penalties"] = list(self.ridge_penalties)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = known_settings(cls, d, "training config")
        d["model"] = ModelSpec.from_dict(d.get("model", {}))
        d["ridge_penalties"] = tuple(d.get("ridge_penalties", cls.ridge_penalties))
        return cls(**d)

    def fingerprint(self) -> str:
        """Hash of everything that changes the result; a run folder only resumes a run with the same one."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def smoke(cls, **overrides) -> TrainConfig:
        """The full recipe shrunk to seconds: tiny images, one epoch per phase."""
        base = cls(image_size=64, batch_size=4, fine_tune_epochs=1, patience=1)
        return replace(base, **overrides)

    @classmethod
    def demo(cls, **overrides) -> TrainConfig:
        """The embedded-default recipe: small photos, a few epochs, minutes on 2 cores."""
        base = cls(image_size=320, batch_size=16, fine_tune_epochs=4, patience=3, val_fraction=0.25)
        return replace(base, **overrides)
