"""Figures (ablations/reporting/plots.py) that a reader can read: every panel's axis carries values."""

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402

from ablations.reporting.plots import plot_layer_grad_norms  # noqa: E402


def labelled_y_ticks(ax) -> list[str]:
    """The y tick labels drawn inside the panel's range, major and minor."""
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    return [t.label1.get_text() for t in ticks if t.label1.get_visible() and t.label1.get_text() and low <= t.get_loc() <= high]


def test_each_per_layer_gradient_norm_panel_has_several_readable_y_ticks():
    # Block norms within one decade (0.31-0.47): a log axis there has at most one 1-2-5 tick to label.
    rows = [{"split": "train", "step": step, "variant": variant, "run_id": f"{variant}{seed}",
             "grad_norm_layer": [0.31 + 0.02 * seed + 0.05 * layer + 0.001 * step for layer in range(3)]}
            for variant in ("pre", "post") for seed in range(2) for step in (1, 10, 100)]
    figure = plot_layer_grad_norms(pd.DataFrame(rows), order=["pre", "post"])
    for ax in figure.axes:
        labels = labelled_y_ticks(ax)
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels  # distinct values, not one per panel
