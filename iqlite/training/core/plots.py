"""The pictures runs write: predicted vs human (scatter), both score distributions (histogram), and for the
feature baseline, which features the trees rely on (importance).

The histogram is the quickest check for the narrow-band failure of light models: the predicted bars should
cover as much of the star range as the human ones.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from iqlite.training.core.atomic import atomic_path  # noqa: E402


def scatter(predicted, human, path: str | os.PathLike, *, title: str = "", stats: dict | None = None) -> None:
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(human, predicted, s=10, alpha=0.6, edgecolors="none")
    ax.plot([0, 5], [0, 5], color="grey", linewidth=1, linestyle="--", label="perfect agreement")
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 5)
    ax.set_xlabel("human score (0–5)")
    ax.set_ylabel("predicted score (0–5)")
    if stats:
        ax.text(
            0.03,
            0.97,
            f"SRCC {stats['srcc']:.3f}\nPLCC {stats['plcc']:.3f}\nRMSE {stats['rmse']:.3f}\nn = {stats['n']}",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
        )
    ax.set_title(title or "predicted vs human")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)


def histogram(predicted, human, path: str | os.PathLike, *, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    bins = np.linspace(0, 5, 26)
    ax.hist(np.asarray(human), bins=bins, alpha=0.5, label="human")
    ax.hist(np.asarray(predicted), bins=bins, alpha=0.5, label="predicted")
    ax.set_xlabel("score (0–5)")
    ax.set_ylabel("photos")
    ax.set_title(title or "score distributions")
    ax.legend()
    save_figure(fig, path)


def save_figure(fig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def importance(shares: dict[str, dict[str, float]], path: str | os.PathLike, top: int = 20) -> None:
    """Horizontal bars of each model's share of split gain per feature, `top` features of the first model."""
    models = list(shares)
    names = list(shares[models[0]])[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.2), dpi=100)
    height = 0.8 / len(models)
    for i, model in enumerate(models):
        ax.barh(np.arange(len(names)) + i * height, [shares[model].get(n, 0.0) for n in names], height=height,
                label=model)
    ax.set_yticks(np.arange(len(names)) + height * (len(models) - 1) / 2, names, fontsize=8)
    ax.set_xlabel("share of total split gain")
    ax.set_title("feature importance")
    ax.legend(fontsize=8)
    save_figure(fig, path)
