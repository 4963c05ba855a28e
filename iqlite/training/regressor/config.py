"""Training recipes as plain Python: one full recipe, and the same recipe shrunk to a smoke run.

Following big_vision's `runlocal` idea, `TrainConfig.smoke()` is the full recipe with tiny sizes and step
counts, so tests and the demo exercise the exact code path the benchmark uses.

Full recipe on LIVE-C (656 photos per cross-validation fold) on a 2-core CPU: 5–11 minutes per run at 384 px.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from iqlite.training.regressor.model_spec import ModelSpec, known_settings


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; saved as config.json in the run folder and checked on resume.

    A field with "help" metadata is also an option of `python -m training train` (`--image-size` ...; see
    training/core/cli_fields.py), so its help text lives here, next to the default it describes.
    """

    # Photos are resized to this square once; scoring uses the same size.
    image_size: int = field(default=384, metadata={"help": "training and scoring resolution (square, pixels)"})
    crop_fraction: float = 0.875  # training sees random crops of this side fraction (no rescaling)
    batch_size: int = field(default=16, metadata={"help": "photos per training step"})
    ridge_penalties: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)  # phase 1 head, picked on val
    # Phase 2: top blocks unfrozen (BatchNormalization stays frozen).
    fine_tune_epochs: int = field(default=12, metadata={
        "help": "phase 2 epochs: top blocks unfrozen (phase 1, the ridge head on frozen features, needs no epochs)"})
    fine_tune_lr: float = field(default=5e-5, metadata={"help": "phase 2 learning rate"})
    fine_tune_from: str = field(default="block_13_expand",
                                metadata={"help": "first backbone layer unfrozen in phase 2"})
    # Phase 2 optimisation (regressor/fine_tune_optim.py, regressor/losses.py); the defaults are the 0.76 recipe.
    fine_tune_schedule: str = field(default="constant", metadata={
        "help": "phase 2 learning-rate schedule: constant, or cosine (linear warm-up, then cosine decay to 0)"})
    warmup_epochs: int = field(default=0, metadata={"help": "phase 2 warm-up epochs of the cosine schedule"})
    lr_stage_decay: float = field(default=1.0, metadata={
        "help": "learning-rate factor per backbone stage below the top one (1 = same rate everywhere)"})
    fine_tune_bn: str = field(default="frozen", metadata={
        "help": "BatchNorm in phase 2: frozen, or affine (scale and shift train, ImageNet statistics kept)"})
    loss: str = field(default="mse", metadata={"help": "phase 2 loss: mse, mse+rank or plcc+rank"})
    rank_weight: float = field(default=1.0, metadata={"help": "weight of the pairwise ranking term of the loss"})
    patience: int = field(default=6, metadata={"help": "epochs without better validation SRCC before a phase ends"})
    val_fraction: float = field(default=0.15, metadata={"help": "share of photos (or groups) held out for validation"})
    # Below this many validation photos their SRCC is too noisy to choose the ridge penalty or to fit the spread
    # calibration alone (standard error ~0.15 at 30 photos): the penalty is then cross-validated on the training
    # photos, and the calibration is fitted on training and validation photos together (see regressor/train.py).
    min_validation_photos: int = 80
    seed: int = field(default=0, metadata={"help": "seed of the split, the crops and the initialisation"})
    weights: str = field(default="imagenet",
                         metadata={"help": "backbone weights: imagenet, none, or a path to an .h5 file"})
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
