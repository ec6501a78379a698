"""`ablate report`: regenerate the table (markdown, CSV) and figures of one ablation from stored runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ablations.analysis import claim_verdicts, compare, load_history, load_runs
from ablations.plots import plot_grad_norm, plot_losses
from ablations.spec import Ablation

_METRIC_LABELS = {"final_val_loss": "final val loss (nats/byte)", "tokens_per_s": "tokens/s", "step_time_s": "step time (s)"}
_DIGITS = {"final_val_loss": 3, "tokens_per_s": 0, "step_time_s": 4}


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _pm(mean: float, low: float, high: float, digits: int) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f}" if math.isnan(low) else f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def _section(ablation: Ablation, runs: pd.DataFrame, table: pd.DataFrame, verdict: str, figures: list[str]) -> str:
    preset, corpus = table["preset"].iloc[0], table["corpus"].iloc[0]
    devices = ", ".join(sorted(runs["device"].unique()))
    concurrency = ", ".join(str(c) for c in sorted(runs["concurrency"].unique()))
    levels = []
    for variant, rows in table.groupby("variant", sort=False):
        by_metric = rows.set_index("metric")
        first = by_metric.iloc[0]
        name = f"{variant} (baseline)" if variant == ablation.baseline else variant
        cells = [_pm(by_metric.loc[m, "mean"], by_metric.loc[m, "ci_low"], by_metric.loc[m, "ci_high"], _DIGITS[m])
                 for m in _METRIC_LABELS]  # fmt: skip
        levels.append([name, str(first["runs"]), str(first["diverged"]), *cells])
    diffs = []
    for row in table.dropna(subset=["diff_mean"]).itertuples():
        ci = (
            "–"
            if math.isnan(row.diff_low)
            else f"[{row.diff_low:+.{_DIGITS[row.metric]}f}, {row.diff_high:+.{_DIGITS[row.metric]}f}]"
        )
        judged = isinstance(getattr(row, "verdict", None), str)
        diffs.append([row.variant, _METRIC_LABELS[row.metric], f"{row.diff_mean:+.{_DIGITS[row.metric]}f}", ci, str(int(row.pairs)),
                      row.expected if judged else "", row.paper if judged else "", f"**{row.verdict}**" if judged else ""])  # fmt: skip
    return "\n\n".join([
        f"## preset `{preset}` · corpus `{corpus}`",
        f"Device: {devices}. Runs timed at concurrency {concurrency}. Verdict on the claim: **{verdict}**.",
        _markdown(["variant", "runs", "diverged", *_METRIC_LABELS.values()], levels),
        f"Paired by seed, variant − {ablation.baseline}, mean and 95% CI (paired t):",
        _markdown(["variant", "metric", "difference", "95% CI", "pairs", "expected", "paper", "verdict"], diffs),
        " ".join(f"![{f}]({f})" for f in figures),
    ])  # fmt: skip


def write_report(ablation: Ablation, results_dir: str | Path) -> list[Path]:
    """Write table.md, table.csv and two figures per (preset, corpus); return the paths written."""
    runs = load_runs(results_dir, ablation.name)
    if runs.empty:
        raise FileNotFoundError(
            f"no finished runs of {ablation.name} under {Path(results_dir) / 'runs'}; run `ablate run {ablation.name}` first"
        )
    out = Path(results_dir) / "reports" / ablation.name
    out.mkdir(parents=True, exist_ok=True)
    table = compare(runs, ablation)
    verdicts = claim_verdicts(table)
    history = load_history(results_dir, ablation.name)
    sections, written = [], []
    for (preset, corpus), part in table.groupby(["preset", "corpus"], sort=True):
        slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{preset}-{corpus}")
        mine = history[(history["preset"] == preset) & (history["corpus_label"] == corpus)]
        figures = []
        for name, plot in (("loss", plot_losses), ("grad_norm", plot_grad_norm)):
            path = out / f"{slug}-{name}.png"
            plt.close(plot(mine, path, title=f"{ablation.name} · {preset} · {corpus}"))
            figures.append(path.name)
            written.append(path)
        group_runs = runs[(runs["preset"] == preset) & (runs["corpus_label"] == corpus)]
        sections.append(_section(ablation, group_runs, part, verdicts.get((preset, corpus), "inconclusive"), figures))
    header = f"# {ablation.name}\n\nClaim: {ablation.claim}. Source: {ablation.source}."
    (out / "table.md").write_text("\n\n".join([header, *sections]) + "\n")
    table.to_csv(out / "table.csv", index=False)
    return [out / "table.md", out / "table.csv", *written]
