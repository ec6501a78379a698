"""The survey as a figure: one strip per axis, each model a dot coloured by its choice, models in order of release
year, so the lecture's "convergent evolution" reads left to right. A model keeps one x in every strip."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # writes a file; no display on clusters or CI
import matplotlib.pyplot as plt  # noqa: E402

from ablations.reporting.plots import PNG_METADATA  # noqa: E402
from models.survey import AXES  # noqa: E402
from models.zoo import ARCHITECTURES, Architecture  # noqa: E402

FIGURE = Path("results/reports/architecture_survey.png")


def model_slots(architectures: list[Architecture]) -> dict[str, int]:
    """x of each model: one slot each, in order of (year, name), so a busy year widens instead of overlapping."""
    ordered = sorted(architectures, key=lambda a: (a.year, a.name))
    return {a.name: i for i, a in enumerate(ordered)}


def plot_survey(path: Path = FIGURE, architectures: Iterable[Architecture] = ARCHITECTURES.values()) -> Path:
    architectures = list(architectures)
    x = model_slots(architectures)
    years = sorted({a.year for a in architectures})
    bands = {year: [x[a.name] for a in architectures if a.year == year] for year in years}  # the slots of each year
    fig, strips = plt.subplots(len(AXES), 1, figsize=(9, 0.42 * len(AXES) + 1.3), sharex=True)
    palette = plt.get_cmap("tab10").colors
    for ax, (axis, (choices, choose)) in zip(strips, AXES.items()):
        for colour, choice in zip(palette, choices):
            xs = [x[a.name] for a in architectures if choose(a.config) == choice]
            ax.scatter(xs, [0] * len(xs), s=30, color=colour, label=choice, edgecolor="white", linewidth=0.5, zorder=3)
        for slots in list(bands.values())[1:]:
            ax.axvline(min(slots) - 0.5, color="0.85", linewidth=0.8, zorder=1)
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        ax.set_ylabel(axis, rotation=0, ha="right", va="center", fontsize=8)
        ax.spines[["left", "right", "top"]].set_visible(False)
        ax.tick_params(axis="x", length=0)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6.5, frameon=False,
                  ncol=(len(choices) + 1) // 2, handletextpad=0.1, columnspacing=0.8)
    top = strips[0].secondary_xaxis("top")  # years above ('17: a one-model year is narrow), model names below
    top.set_xticks([(min(s) + max(s)) / 2 for s in bands.values()], [f"’{y % 100:02d}" for y in years], fontsize=7.5)
    top.tick_params(length=0)
    names = sorted(x, key=x.get)
    strips[-1].set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    strips[-1].set_xlim(-0.7, len(names) - 0.3)
    fig.suptitle("Choices of the named architectures (models/zoo.py), in order of release year", fontsize=9)
    fig.tight_layout(h_pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, metadata=PNG_METADATA, bbox_inches="tight")
    plt.close(fig)
    return path
