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
    out = train.sort_values("step", kind="stable").copy()  # stable: variants keep their order, so their colours
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


def plot_lr_sweep(runs: pd.DataFrame, path: Path | None = None, title: str = "") -> plt.Figure:
    """Final loss against LR, one line per variant; `capped` holds diverged runs at chance level."""
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(data=runs, x="lr", y="capped", hue="variant", errorbar=BAND, marker="o", ax=ax)
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="final val loss (diverged = log vocab)", title=title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_layer_grad_norms(history: pd.DataFrame, path: Path | None = None, title: str = "") -> plt.Figure:
    """Per-layer gradient norm (whole block, before clipping) at initialisation, 10% into training and at the
    end: Xiong et al. 2020's profile, where post-norm's grows toward the output and pre-norm's stays flat."""
    train = history[history["split"] == "train"]
    last = int(train["step"].max())
    moments = {"initialisation (step 1)": 1, f"step {last // 10}": last // 10, f"step {last}": last}
    frames = []
    for label, step in moments.items():
        # The row nearest the wanted step, per run (history windows are ~0.5% of the run wide).
        nearest = train.loc[(train["step"] - step).abs().groupby(train["run_id"]).idxmin()]
        layers = nearest[["variant", "run_id", "grad_norm_layer"]].explode("grad_norm_layer")
        layers["layer"] = layers.groupby("run_id").cumcount() + 1
        frames.append(layers.assign(moment=label, grad_norm_layer=layers["grad_norm_layer"].astype(float)))
    data = pd.concat(frames, ignore_index=True)
    grid = sns.relplot(data=data, x="layer", y="grad_norm_layer", hue="variant", col="moment", kind="line",
                       errorbar=BAND, marker="o", height=3.5, facet_kws={"sharey": False})
    grid.set(yscale="log")
    grid.set_axis_labels("layer", "block gradient norm")
    grid.figure.subplots_adjust(wspace=0.25)
    grid.set_titles("{col_name}")
    grid.figure.suptitle(title, y=1.04)
    if path is not None:
        grid.figure.savefig(path, dpi=120, bbox_inches="tight")
    return grid.figure
