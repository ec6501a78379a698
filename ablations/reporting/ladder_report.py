"""The scale-ladder section of an ablation's report: per claim, its effect at each rung with the CI and verdict,
the fitted trend and its verdict (judge/ladder.py), ladder.csv, and a figure of effect against size per claim."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ablations.declare.metrics import METRICS
from ablations.judge.ladder import Trend
from ablations.reporting.claim_text import ci, signed
from ablations.reporting.markdown import markdown_table
from ablations.reporting.plots import save_figure

INTRO = ("Each claim at every rung of the scale ladder (`ablate ladder`; presets of tiny's aspect ratio, tokens per "
         "parameter and 1/d_model LR, single-pass), and the trend of its effect against log10 of the baseline's "
         "non-embedding parameters: a least-squares fit over every paired seed with a fixed effect per seed, 95% CI on "
         "the slope per decade. The trend rule, fixed before the ladder's runs, is in `judge/ladder.py`.")


LIMITS = ("What the ladder holds fixed, and so cannot separate from size: tokens per parameter (so compute grows as "
          "parameters squared, and every rung is far from converged), the aspect ratio (depth grows with width; heads "
          "of 32 grow in number, which changes ALiBi's slopes), batch and context, and one LR per rung by a 1/d_model "
          "rule, tuned for neither arm. Parameters are the baseline's own (the rule's shape is the preset's default). "
          "The trend is in absolute nats per byte while the baseline's loss falls with size; each claim's trend is "
          "judged on its own, with no correction for the ablation's several claims.")


def plot_trend(trend: Trend, path: Path | None = None) -> plt.Figure:
    """Effect (treatment − baseline) against parameters: each rung's mean and 95% CI, the fitted line, zero and
    the claim's margin where it has one."""
    metric, claim = METRICS[trend.claim.metric], trend.claim
    fig, ax = plt.subplots(figsize=(6, 4))
    shown = [r for r in trend.rungs if r.verdict.pairs]
    x = np.array([r.params for r in shown], dtype=float)
    y = np.array([r.verdict.effect.mean for r in shown])
    low, high = (np.array([getattr(r.verdict.effect, side) for r in shown]) for side in ("low", "high"))
    ax.errorbar(x, y, yerr=[np.nan_to_num(y - low), np.nan_to_num(high - y)], fmt="o", capsize=4, label="rung: mean, 95% CI")
    for rung, xi, yi in zip(shown, x, y):
        ax.annotate(rung.preset, (xi, yi), textcoords="offset points", xytext=(6, 4), fontsize=7)
    if not math.isnan(trend.slope.mean):
        line = np.geomspace(x.min(), x.max(), 50)
        ax.plot(line, trend.intercept + trend.slope.mean * np.log10(line), "--", label=f"fit: {trend.word}")
    ax.axhline(0, color="grey", lw=0.8)
    if claim.direction in ("not_higher", "matches"):
        for bound in (claim.margin, -claim.margin) if claim.direction == "matches" else (claim.margin,):
            ax.axhline(bound, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters (baseline)")
    ax.set_ylabel(f"{claim.treatment} − {claim.baseline}, {metric.unit}")
    ax.set_title(claim.says, fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return fig


def ladder_section(found: list[Trend], out: Path) -> tuple[str, list[Path]]:
    """The section's markdown, and the files written (ladder.csv, one figure per trend). An earlier report's ladder
    files go first, so none outlives the trend it drew."""
    for stale in [*out.glob("ladder-*.png"), out / "ladder.csv"]:
        stale.unlink(missing_ok=True)
    if not found:
        return "", []
    rows, trend_rows, csv, written = [], [], [], []
    for i, trend in enumerate(found):
        digits = METRICS[trend.claim.metric].digits
        where = trend.corpus_label + ("" if math.isnan(trend.lr) else f", lr {trend.lr:g}")
        path = out / f"ladder-{i}.png"
        plt.close(plot_trend(trend, path))
        written.append(path)
        for rung in trend.rungs:
            e = rung.verdict.effect
            rows.append([trend.claim.says, rung.preset, f"{rung.params / 1e6:.2f}M", f"{signed(e.mean, digits)} "
                         f"{ci(e.low, e.high, digits)}", str(e.n), f"{rung.verdict.sd:.{digits}f}", rung.verdict.word])
            csv.append(dict(says=trend.claim.says, corpus_label=trend.corpus_label, lr=trend.lr, preset=rung.preset,
                            params=rung.params, diff_mean=e.mean, diff_low=e.low, diff_high=e.high, pairs=e.n,
                            verdict=rung.verdict.word, slope=trend.slope.mean, slope_low=trend.slope.low,
                            slope_high=trend.slope.high, trend=trend.word, trend_note=trend.note))
        sizes = ", ".join(r.preset for r in trend.rungs if r.verdict.pairs)
        trend_rows.append([trend.claim.says, where, sizes, f"**{trend.word}**", trend.note, f"![{path.name}]({path.name})"])
    pd.DataFrame(csv).to_csv(out / "ladder.csv", index=False)
    written.append(out / "ladder.csv")
    text = "\n\n".join(["## Scale ladder", INTRO,
                        markdown_table(["claim", "where", "rungs", "trend", "fit", "figure"], trend_rows),
                        markdown_table(["claim", "rung", "parameters", "effect [95% CI]", "pairs", "paired SD", "verdict"],
                                       rows), LIMITS])
    return text, written
