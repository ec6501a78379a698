"""Figures from the tidy history frame: one colour per variant in every figure (the baseline first), the
spread over seeds as a band that each figure names."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

BAND = ("pi", 100)  # min–max over seeds
BAND_NAME = "band: min–max over seeds"
PNG_METADATA = {"Software": None}  # no version string: unchanged runs give byte-identical figures


def colours(order: list[str]) -> dict[str, tuple]:
    """One colour per variant, fixed by the ablation's order (baseline first), whatever a figure shows."""
    return dict(zip(order, sns.color_palette(n_colors=len(order))))


def _hue(data: pd.DataFrame, order: list[str] | None) -> dict:
    if data.empty:  # e.g. no evaluation of a run that diverged early: nothing to colour
        return {}
    order = [v for v in (order or sorted(data["variant"].unique())) if v in set(data["variant"])]
    return dict(hue="variant", hue_order=order, palette={v: c for v, c in colours(order).items()})


def _plain_log_ticks(ax) -> None:
    """1, 2, 5, 0.1 rather than 10⁰, 2×10⁰."""
    for axis in (ax.yaxis,):
        axis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:g}" if f"{y:.1g}"[0] in "25" else ""))


def _readable_log_ticks(ax) -> None:
    """Plain log ticks, or, on an axis spanning less than a decade (where 1-2-5 ticks leave one label or none),
    four evenly spaced values."""
    low, high = ax.get_ylim()
    if low > 0 and high / low >= 10:
        _plain_log_ticks(ax)
        return
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))


def save_figure(fig, path: Path | None, **kwargs) -> None:
    if path is not None:
        fig.savefig(path, dpi=120, metadata=PNG_METADATA, **kwargs)


def _smoothed(train: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per-run rolling mean over ~2% of the run's rows, so the bands show seed spread rather than batch noise."""
    window = max(1, train.groupby("run_id").size().max() // 50)
    out = train.sort_values("step", kind="stable").copy()  # stable: variants keep their order, so their colours
    out[column] = out.groupby("run_id")[column].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return out


def plot_losses(history: pd.DataFrame, path: Path | None = None, title: str = "", order: list[str] | None = None) -> plt.Figure:
    """Train and validation loss, each on its own y axis: small validation differences stay visible."""
    fig, (ax_train, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    train = _smoothed(history[history["split"] == "train"], "loss")
    sns.lineplot(data=train, x="step", y="loss", errorbar=BAND, ax=ax_train, **_hue(history, order))
    val = history[history["split"] == "val"]
    sns.lineplot(data=val, x="step", y="loss", errorbar=BAND, marker="o", ax=ax_val, **_hue(val, order))
    ax_train.set(title="train loss (smoothed)", ylabel="loss (nats/byte)")
    ax_val.set(title="validation loss", ylabel="loss (nats/byte)")
    fig.suptitle(f"{title} · {BAND_NAME}" if title else BAND_NAME)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_grad_norm(history: pd.DataFrame, path: Path | None = None, title: str = "",
                   order: list[str] | None = None) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    train = history[history["split"] == "train"]
    sns.lineplot(data=train, x="step", y="grad_norm", errorbar=BAND, ax=ax, linewidth=0.8, **_hue(history, order))
    ax.set(yscale="log", ylabel="global gradient norm (before clipping)", title=f"{title}\n{BAND_NAME}")
    _plain_log_ticks(ax)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_lr_sweep(runs: pd.DataFrame, path: Path | None = None, title: str = "", order: list[str] | None = None) -> plt.Figure:
    """Final loss against LR, one line per variant; `capped` holds runs that diverged or did not train at chance."""
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.lineplot(data=runs, x="lr", y="capped", errorbar=BAND, marker="o", ax=ax, **_hue(runs, order))
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="final val loss (failed = log vocab)", title=f"{title}\n{BAND_NAME}")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_layer_grad_norms(history: pd.DataFrame, path: Path | None = None, title: str = "",
                          order: list[str] | None = None) -> plt.Figure:
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
    grid = sns.relplot(data=data, x="layer", y="grad_norm_layer", col="moment", kind="line", errorbar=BAND, marker="o",
                       height=3.5, facet_kws={"sharey": False}, **_hue(history, order))
    grid.set(yscale="log")
    for ax in grid.axes.flat:
        _readable_log_ticks(ax)
    grid.set_axis_labels("layer", "block gradient norm")
    grid.figure.subplots_adjust(wspace=0.25)
    grid.set_titles("{col_name}")
    grid.figure.suptitle(f"{title} · {BAND_NAME}", y=1.04)
    save_figure(grid.figure, path, bbox_inches="tight")
    return grid.figure
