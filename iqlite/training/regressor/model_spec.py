"""The architecture settings of the quality regressor, as data: TensorFlow-free, so configs and `--help` load fast.

`iqlite.training.regressor.model` builds the network from a `ModelSpec`; every run saves its spec in config.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from iqlite.training.core.errors import InputError

__all__ = ["DEFAULT_CUT", "DEFAULT_TAPS", "ModelSpec", "known_settings"]


def known_settings(cls: type, d: dict, what: str) -> dict:
    """A copy of `d` if every key is a field of the dataclass `cls`; else InputError naming the unknown ones
    (a run folder written by another iqlite version must not be half-understood)."""
    unknown = sorted(set(d) - set(cls.__dataclass_fields__))
    if unknown:
        raise InputError(f"{what} has settings this version of iqlite does not know: {', '.join(unknown)}"
                         " (made by another version? retrain, or use that version)")
    return dict(d)

#: Cut before Conv_1: the last layer kept. Its output (112 channels at alpha 0.35) is always one tap.
DEFAULT_CUT = "block_16_project_BN"
DEFAULT_TAPS = ("block_5_add", "block_9_add", "block_12_add", "block_15_add")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes the network's architecture (saved with every run)."""

    alpha: float = 0.35
    cut_layer: str = field(default=DEFAULT_CUT, metadata={
        "help": "last MobileNetV2 layer kept", "why_default": "before Conv_1, so the int8 model fits in 450 KB"})
    taps: tuple[str, ...] = DEFAULT_TAPS
    dropout: float = 0.25
    std_pooling: bool = True
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["taps"] = list(self.taps)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        d = known_settings(cls, d, "model spec")
        d["taps"] = tuple(d.get("taps", DEFAULT_TAPS))
        return cls(**d)
