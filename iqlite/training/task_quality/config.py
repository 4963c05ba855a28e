"""The metrifier's recipe as plain data: TensorFlow-free, so `--help` and the data set builder load fast.

Full (the shipped model), and smoke (tests: tiny, random weights) from the same dataclass, as for the photo
model's recipes. Saved as the run's config.json; its fingerprint guards a resumed run against a changed recipe.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from iqlite.training.regressor.model_spec import known_settings

__all__ = ["DEFAULT_TAPS", "MetrifierConfig"]

#: Mean/std pooled taps from stride 4 to the cut: distortions of text show early (blur, noise, blocking at
#: stride 4-8), their effect on legibility later (see the depth analysis in docs/task_quality.md).
DEFAULT_TAPS: tuple[str, ...] = ("block_2_add", "block_5_add", "block_9_add", "block_12_add", "block_15_add")


@dataclass(frozen=True)
class MetrifierConfig:
    """Architecture and training settings of a metrifier run."""

    alpha: float = 0.35
    cut_layer: str = field(default="block_16_project_BN", metadata={
        "help": "last MobileNetV2 layer kept", "why_default": "before Conv_1, so the int8 model fits in 450 KB"})
    taps: tuple[str, ...] = DEFAULT_TAPS
    weights: str = field(default="imagenet", metadata={"help": "backbone weights: imagenet, none (tests) or an .h5"})
    dropout: float = 0.2
    batch_size: int = 16
    head_epochs: int = field(default=150, metadata={"help": "phase 1: epochs of the heads on cached frozen features"})
    head_lr: float = 3e-3
    fine_tune_epochs: int = field(default=5, metadata={"help": "phase 2: epochs of fine-tuning (0: heads only)"})
    fine_tune_from: str = field(default="block_6_expand", metadata={"help": "first backbone layer fine-tuned"})
    fine_tune_lr: float = 2e-4
    family_weight: float = field(default=0.3, metadata={"help": "weight of the distortion-family loss"})
    head_l2: float = field(default=3e-3, metadata={"help": "L2 penalty on both heads' weights: small weights keep "
                                                   "the int8 model's rounding of the features from moving the outputs"})
    patience: int = 3
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["taps"] = list(self.taps)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MetrifierConfig:
        d = known_settings(cls, d, "metrifier config")
        d["taps"] = tuple(d.get("taps", DEFAULT_TAPS))
        return cls(**d)

    @classmethod
    def smoke(cls) -> MetrifierConfig:
        """Seconds on a CPU: random weights, a shallow cut, one epoch of each phase (tests)."""
        return replace(cls(), weights="none", cut_layer="block_6_expand_relu", taps=("block_2_add", "block_5_add"),
                       batch_size=8, head_epochs=5, fine_tune_epochs=1, fine_tune_from="block_5_expand")

    def fingerprint(self) -> str:
        """Of everything but the epoch count and patience: a run can be extended, or cut short, and resumed."""
        d = self.to_dict()
        d.pop("fine_tune_epochs")
        d.pop("patience")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
