"""Training recipes as plain Python: one full recipe, and the same recipe shrunk to a smoke run.

Following big_vision's `runlocal` idea, `TrainConfig.smoke()` is the full recipe with tiny sizes and step
counts, so tests and the demo exercise the exact code path the benchmark uses.

Full recipe on LIVE-C (656 photos per cross-validation fold) on a 2-core CPU: about 8 minutes per run at
384 px. How it was chosen, lever by lever: docs/results.md#accuracy-levers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from iqlite.training.core.errors import InputError
from iqlite.training.regressor.model_spec import ModelSpec, known_settings

#: Allowed values of the phase-2 settings (checked when a config is made, before minutes of phase 1).
SCHEDULES = ("constant", "cosine")
BN_MODES = ("frozen", "affine")
LOSSES = ("mse", "mse+rank", "plcc+rank")
EPOCH_SELECTION = ("best", "last")
COMPRESSION_FIELDS = ("compression_ladders", "compression_loss", "compression_kappa", "compression_knee",
                      "compression_versions_per_epoch", "compression_pair_weight", "compression_epochs",
                      "compression_lr")
COMPRESSION_LOSSES = ("stage", "pairs", "targets")


def crop_side(size: int, crop_fraction: float) -> int:
    """Side of the random training crops of a `size` px square photo (at least 32 px)."""
    return max(32, int(round(size * crop_fraction)))


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
    # Phase 2: the backbone from block 1 up unfrozen (BatchNormalization stays frozen), warm-up then cosine
    # decay, each lower resolution stage at half the rate of the one above (regressor/fine_tune_optim.py).
    fine_tune_epochs: int = field(default=20, metadata={
        "help": "phase 2 epochs (phase 1, the ridge head on frozen features, needs no epochs)"})
    fine_tune_lr: float = field(default=1e-4, metadata={"help": "phase 2 peak learning rate (top stage and head)"})
    fine_tune_from: str = field(default="block_1_expand",
                                metadata={"help": "first backbone layer unfrozen in phase 2"})
    fine_tune_schedule: str = field(default="cosine", metadata={
        "help": "phase 2 learning-rate schedule: constant, or cosine (linear warm-up, then cosine decay to 0)"})
    warmup_epochs: int = field(default=1, metadata={"help": "phase 2 warm-up epochs of the cosine schedule"})
    lr_stage_decay: float = field(default=0.5, metadata={
        "help": "learning-rate factor per backbone stage below the top one (1 = same rate everywhere)"})
    fine_tune_bn: str = field(default="frozen", metadata={
        "help": "BatchNorm in phase 2: frozen, or affine (scale and shift train, ImageNet statistics kept)"})
    loss: str = field(default="mse", metadata={"help": "phase 2 loss: mse, mse+rank or plcc+rank"})
    rank_weight: float = field(default=1.0, metadata={"help": "weight of the pairwise ranking term of the loss"})
    # With the cosine schedule the last epoch is as good on held-out photos as the one validation picks
    # (LIVE-C folds 0/1: 0.752/0.763 vs 0.755/0.762); "last" lets a run hold out fewer photos.
    select_epoch: str = field(default="best", metadata={
        "help": "which epoch the run keeps: best (by validation SRCC) or last (the epoch count is the recipe's)"})
    # The cosine schedule runs its course (patience = epochs); the best epoch by validation SRCC is kept.
    patience: int = field(default=20, metadata={"help": "epochs without better validation SRCC before a phase ends"})
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
    # Compression-aware training (docs/compression_aware.md): versions of the training photos from a ladder
    # table, scored from the photo's score (training/data/compression_rows.py); off without a table.
    compression_ladders: str = field(default="", metadata={
        "help": "ladder table (python -m training compression-ladders) of the training photos: their encoded versions"
                " teach the model compression, scored from the photo's score and their SSIMULACRA 2"})
    compression_loss: str = field(default="stage", metadata={
        "help": "how ladder versions train: stage (after training, ladder pairs teach the drop while the model's own"
                " scores of the rated photos are held), pairs (the drop, during fine-tuning) or targets (each"
                " version its own derived score, during fine-tuning)"})
    compression_kappa: float = field(default=0.03, metadata={
        "help": "stars a ladder version loses per SSIMULACRA 2 point below --compression-knee"})
    compression_knee: float = field(default=90.0, metadata={
        "help": "SSIMULACRA 2 above which a version keeps its photo's score (90: visually lossless)"})
    compression_versions_per_epoch: int = field(default=2, metadata={
        "help": "ladder versions of each training photo drawn (afresh) into each phase-2 epoch"})
    compression_pair_weight: float = field(default=1.0, metadata={
        "help": "weight of the ladder-pair term beside the rated photos' loss (compression-loss stage, pairs)"})
    compression_epochs: int = field(default=6, metadata={"help": "epochs of the compression stage"})
    compression_lr: float = field(default=5e-5, metadata={
        "help": "learning rate of the compression stage (constant; lower stages scaled by --lr-stage-decay)"})

    def __post_init__(self) -> None:
        for name, allowed in (("fine_tune_schedule", SCHEDULES), ("fine_tune_bn", BN_MODES), ("loss", LOSSES),
                              ("select_epoch", EPOCH_SELECTION), ("compression_loss", COMPRESSION_LOSSES)):
            value = getattr(self, name)
            if value not in allowed:
                raise InputError(f"{name.replace('_', '-')} {value!r} is not one of: {', '.join(allowed)}")
        if self.compression_kappa < 0 or self.compression_versions_per_epoch < 1 or self.compression_epochs < 1:
            raise InputError("compression-kappa must be >= 0, compression-versions-per-epoch and compression-epochs"
                             " >= 1")
        if not 0 <= self.lr_stage_decay <= 1:
            raise InputError(f"lr-stage-decay must be between 0 and 1, not {self.lr_stage_decay:g}")

    def to_dict(self) -> dict:
        """Every field, except the compression-aware ones when no ladder table is used (they change nothing
        then, and leaving them out keeps the fingerprints of runs made before they existed)."""
        d = asdict(self)
        if not self.compression_ladders:
            for name in COMPRESSION_FIELDS:
                d.pop(name)
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
        base = cls(image_size=64, batch_size=4, fine_tune_epochs=1, patience=1, compression_epochs=1)
        return replace(base, **overrides)

    @classmethod
    def demo(cls, **overrides) -> TrainConfig:
        """The embedded-default recipe: small photos, a few epochs, minutes on 2 cores."""
        # Phase 2 of the earlier, lighter recipe (top blocks, constant rate, best epoch): a quarter of the full
        # fine-tune's time per epoch, which keeps the main job within minutes.
        base = cls(image_size=320, batch_size=16, fine_tune_epochs=4, patience=3, val_fraction=0.25,
                   fine_tune_from="block_13_expand", fine_tune_lr=5e-5, fine_tune_schedule="constant",
                   warmup_epochs=0, lr_stage_decay=1.0, select_epoch="best")
        return replace(base, **overrides)
