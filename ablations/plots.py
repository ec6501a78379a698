"""Figures from the tidy history frame: one colour per variant, the spread over seeds as a band."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

BAND = ("pi", 100)  # min–max over seeds


def _smoothed(train: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per-run rolling mean over ~2% of the run's rows, so the bands show seed spread rather than batch noise."""
    window = max(1, train.groupby("run_id").size().max() // 50)
    out = train.sort_values("step").copy()
    out[column] = out.groupby("run_id")[column].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return out


def plot_losses(history: pd.DataFrame, path: Path | None = None, title: str = "") -> plt.Figure:
    fig, (ax_train, ax_val) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    train = _smoothed(history[history["split"] == "train"], "loss")
    sns.lineplot(data=train, x="step", y="loss", hue="variant", errorbar=BAND, ax=ax_train)
    sns.lineplot(data=history[history["split"] == "val"], x="step", y="loss", hue="variant", errorbar=BAND,
                 marker="o", ax=ax_val)
    ax_train.set(title="train loss (smoothed)", ylabel="loss (nats/byte)")
    ax_val.set(title="validation loss")
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_grad_norm(history: pd.DataFrame, path: Path | None = None, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    train = history[history["split"] == "train"]
    sns.lineplot(data=train, x="step", y="grad_norm", hue="variant", errorbar=BAND, ax=ax, linewidth=0.8)
    ax.set(yscale="log", ylabel="global gradient norm (before clipping)", title=title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
