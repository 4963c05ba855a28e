"""Where the ImageNet backbone weights come from, with one clear message when they can't be found.

Keras keeps downloaded application weights in `$KERAS_HOME/models` (default `~/.keras/models`) and serves
`weights="imagenet"` from there without a download. On an offline machine the download fails with a long
stack trace; we check the cache first and turn the failure into a message that says exactly what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from iqlite.training.core.errors import UserError

#: The file Keras itself uses for MobileNetV2 no-top weights; `{alpha}` and `{size}` as in keras.applications.
KERAS_WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5"
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"


class WeightsNotFoundError(UserError, RuntimeError):
    """ImageNet weights are neither in the Keras cache nor downloadable; the message carries the fix."""


def keras_cache_dir() -> Path:
    """The folder Keras looks in for application weights (honours KERAS_HOME like Keras does)."""
    home = os.environ.get("KERAS_HOME")
    return Path(home) / "models" if home else Path.home() / ".keras" / "models"


def imagenet_weights_file(alpha: float, size: int = 224) -> str:
    """File name Keras uses for the no-top MobileNetV2 weights of this width."""
    alpha_text = f"{alpha:g}" if alpha != 1.0 else "1.0"
    return KERAS_WEIGHTS_FILE.format(alpha=alpha_text, size=size)


def resolve_weights(weights: str | None, alpha: float) -> str | None:
    """Turn the user's `--weights` value into what keras.applications accepts.

    "imagenet" stays "imagenet" (Keras serves it from its cache, or downloads it), "none" becomes None
    (random init, for tests), anything else must be an existing .h5 file.
    """
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() == "imagenet":
        return "imagenet"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"--weights {weights}: no such file")
    return str(path)


def missing_imagenet_message(alpha: float, cause: BaseException | None = None) -> str:
    """The one message shown when ImageNet weights can be neither found nor downloaded."""
    name = imagenet_weights_file(alpha)
    lines = [
        f"ImageNet weights for MobileNetV2 alpha {alpha:g} are not in the Keras cache and could not be "
        "downloaded" + (f" ({type(cause).__name__}: {cause})." if cause else "."),
        "Fix one of:",
        f"  - put the file in the Keras cache: mkdir -p {keras_cache_dir()} && cp {name} {keras_cache_dir()}/",
        f"    (the file is {KERAS_WEIGHTS_URL}{name}; in this repository's workspace it is ../shared/weights/{name},"
        " and scripts/setup.sh copies it for you)",
        "  - or pass --weights PATH/TO/" + name,
        "  - or pass --weights none to train from random initialisation (much less accurate; for tests)",
    ]
    return "\n".join(lines)
