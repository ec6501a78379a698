"""`ablate report`: regenerate the table (markdown, CSV) and figures of one ablation from stored runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the report writes files; no display on clusters or CI (notebooks keep their inline backend)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ablations.analysis import (  # noqa: E402
    GROUP,
    SWEEP_GROUP,
    capped_loss,
    claim_verdicts,
    compare,
    judged,
    load_history,
    load_runs,
    lr_sensitivity,
)
from ablations.markdown import markdown_table  # noqa: E402
from ablations.metrics import METRICS, PER_RUN, Metric  # noqa: E402
from ablations.plots import plot_grad_norm, plot_layer_grad_norms, plot_losses, plot_lr_sweep  # noqa: E402
from ablations.run_record import RunRecord, ablation_dir  # noqa: E402
from ablations.spec import Ablation  # noqa: E402

_PLOTS = (("loss", plot_losses), ("grad_norm", plot_grad_norm), ("layer_grad_norms", plot_layer_grad_norms))
_BENCHMARKS = ("op_profile.md", "decode.md")  # written by `ablate profile` and `ablate decode-bench`
_SENSITIVITY = METRICS["lr_sensitivity"]
_TABLES = {"loss and stability": ("loss", "stability"), "speed, memory and size": ("speed", "size")}


def _pm(mean: float, low: float, high: float, digits: int) -> str:
    if math.isnan(mean):
        return "–"
    exact = math.isnan(low) or low == high  # one seed, or the same on every seed (sizes from the config)
    return f"{mean:.{digits}f}" if exact else f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def _signed(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:+.{digits}f}"


def _ci(low: float, high: float, digits: int) -> str:
    if low == high:
        return "exact"  # the same difference on every seed
    return "–" if math.isnan(low) else f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def _name(ablation: Ablation, variant: str) -> str:
    return f"{variant} (baseline)" if variant == ablation.baseline else variant


def _metrics(kinds: tuple[str, ...]) -> list[Metric]:
    return [metric for metric in PER_RUN if metric.kind in kinds]


def _levels(ablation: Ablation, table: pd.DataFrame, kinds: tuple[str, ...]) -> str:
    """Per variant and registered metric: mean ± CI half-width over finished seeds."""
    metrics, rows = _metrics(kinds), []
    for variant, part in table.groupby("variant", sort=False):
        by_metric = part.set_index("metric")
        cells = [_pm(*by_metric.loc[m.name, ["mean", "ci_low", "ci_high"]], m.digits) for m in metrics]
        rows.append([_name(ablation, variant), str(part["runs"].iloc[0]), str(part["diverged"].iloc[0]), *cells])
    return markdown_table(["variant", "runs", "diverged", *(m.heading for m in metrics)], rows)


def _differences(ablation: Ablation, table: pd.DataFrame, kinds: tuple[str, ...]) -> str:
    """Per non-baseline variant and registered metric: the paired difference to the baseline with its CI."""
    metrics, rows = _metrics(kinds), []
    for variant, part in table[table["variant"] != ablation.baseline].groupby("variant", sort=False):
        by_metric = part.set_index("metric")
        cells = [f"{_signed(r.diff_mean, m.digits)} {_ci(r.diff_low, r.diff_high, m.digits)}".replace(" –", "")
                 .replace(" exact", "") for m in metrics for r in [by_metric.loc[m.name]]]
        rows.append([variant, str(int(part["pairs"].iloc[0])), *cells])
    return markdown_table(["variant", "pairs", *(m.heading for m in metrics)], rows)


def _claims(table: pd.DataFrame) -> str:
    """One row per claimed (variant, metric): the difference, its CI, the detectable effect and the verdict."""
    rows = []
    for row in judged(table).itertuples():
        metric = METRICS[row.metric]
        detectable = "–" if math.isnan(row.detectable) else metric.format(row.detectable)
        rows.append([row.variant, metric.heading, _signed(row.diff_mean, metric.digits),
                     _ci(row.diff_low, row.diff_high, metric.digits), detectable, str(int(row.pairs)), row.expected,
                     row.paper, f"**{row.verdict}**"])
    header = ["variant", "metric", "difference", "95% CI", "detectable ≥", "pairs", "expected", "paper", "verdict"]
    return markdown_table(header, rows)


def _section(ablation: Ablation, runs: pd.DataFrame, table: pd.DataFrame, verdict: str, figures: list[str]) -> str:
    devices = ", ".join(sorted(runs["device"].unique()))
    concurrency = ", ".join(str(c) for c in sorted(runs["concurrency"].unique()))
    return "\n\n".join([
        f"## preset `{table['preset'].iloc[0]}` · corpus `{table['corpus_label'].iloc[0]}` · lr {table['lr'].iloc[0]:g} "
        f"· design `{table['design'].iloc[0]}`",
        f"Device: {devices}. Runs timed at concurrency {concurrency}. Verdict on the claim: **{verdict}**.",
        _claims(table),
        *(f"{title.capitalize()}: mean ± 95% CI half-width over seeds.\n\n{_levels(ablation, table, kinds)}"
          for title, kinds in _TABLES.items()),
        f"Paired by seed, variant − {ablation.baseline}, mean [95% CI] (paired t):",
        *(_differences(ablation, table, kinds) for kinds in _TABLES.values()),
        " ".join(f"![{f}]({f})" for f in figures),
    ])


def _figure_path(out: Path, *parts: str) -> Path:
    return out / re.sub(r"[^A-Za-z0-9._]+", "-", "-".join(parts) + ".png")


def _lr_list(lrs: list[float]) -> str:
    return ", ".join(f"{lr:g}" for lr in lrs)


def _sweep_sections(ablation: Ablation, runs: pd.DataFrame, out: Path) -> tuple[list[str], list[Path]]:
    """Per sweep group: final loss against LR (figure) and the LR-sensitivity table."""
    table = lr_sensitivity(runs, ablation)
    if table.empty:
        return [], []
    sections, written = [], []
    finished = runs[~runs["superseded"]].assign(capped=lambda frame: capped_loss(frame))
    for key, part in table.groupby(SWEEP_GROUP, sort=True):
        preset, corpus, design = key
        path = _figure_path(out, preset, corpus, design, "lr-sweep")
        sweep = finished[(finished[SWEEP_GROUP] == pd.Series(key, index=SWEEP_GROUP)).all(axis=1)]
        plt.close(plot_lr_sweep(sweep, path, title=f"{ablation.name} · {preset} · {corpus}"))
        written.append(path)
        rows, digits = [], _SENSITIVITY.digits
        for row in part.itertuples():
            diff = "" if row.variant == ablation.baseline else _signed(row.diff_mean, digits)
            if diff and not math.isnan(row.diff_low):
                diff += " " + _ci(row.diff_low, row.diff_high, digits)
            verdict = f"**{row.verdict}**" if isinstance(getattr(row, "verdict", None), str) else ""
            rows.append([_name(ablation, row.variant), str(row.seeds), _pm(row.mean, row.ci_low, row.ci_high, digits), diff,
                         verdict])
        sections.append("\n\n".join([
            f"## LR sweep · preset `{preset}` · corpus `{corpus}` · lr {_lr_list(part['lrs'].iloc[0])} · design `{design}`",
            "LR sensitivity (Wortsman et al. 2023): per seed, the mean over the sweep of final val loss − the best "
            "of them, a diverged run scored as log(vocab); over seeds that finished every LR.",
            markdown_table(["variant", "seeds", _SENSITIVITY.heading, f"− {ablation.baseline} [95% CI]", "verdict"], rows),
            f"![{path.name}]({path.name})",
        ]))
    return sections, written


def write_report(ablation: Ablation, results_dir: str | Path) -> list[Path]:
    """Write table.md, table.csv, the figures of each comparison group and of each LR sweep; return the paths."""
    runs = load_runs(results_dir, ablation.name)
    if runs.empty:
        where = ablation_dir(results_dir, ablation.name)
        raise FileNotFoundError(f"no finished runs of {ablation.name} under {where}; run `ablate run {ablation.name}` first")
    out = Path(results_dir) / "reports" / ablation.name
    out.mkdir(parents=True, exist_ok=True)
    table = compare(runs, ablation)
    verdicts = claim_verdicts(table)
    histories = dict(list(load_history(results_dir, ablation.name, runs).groupby(GROUP)))
    group_runs = dict(list(runs[~runs["superseded"]].groupby(GROUP)))
    sections, written = [], []
    for key, part in table.groupby(GROUP, sort=True):
        preset, corpus, design, lr = key
        figures = []
        for name, plot in _PLOTS if key in histories else ():
            path = _figure_path(out, preset, corpus, design, f"lr{lr:g}", name)
            history = histories[key]
            title = f"{ablation.name} · {preset} · {corpus} · lr {lr:g}"
            plt.close(plot(history[~history["superseded"]], path, title=title))
            figures.append(path.name)
            written.append(path)
        sections.append(_section(ablation, group_runs[key], part, verdicts.get(key, "inconclusive"), figures))
    sweep_sections, sweep_figures = _sweep_sections(ablation, runs, out)
    sections += sweep_sections
    written += sweep_figures
    superseded = int(runs["superseded"].sum())
    header = f"# {ablation.name}\n\nClaim: {ablation.claim}. Source: {ablation.source}."
    if superseded:
        header += f"\n\n{superseded} run(s) of older variant definitions are superseded and left out."
    if unfinished := sum(not record.is_done for record in RunRecord.every(results_dir, ablation.name)):
        header += (f"\n\n{unfinished} run(s) have no results yet (queued, running, interrupted, failed or cancelled): "
                   f"`ablate status {ablation.name}` shows which, with the log of each failure.")
    benchmarks = [f"[{name}]({name})" for name in _BENCHMARKS if (out / name).exists()]
    if benchmarks:
        header += "\n\nSpeed measurements beside this report: " + ", ".join(benchmarks) + "."
    (out / "table.md").write_text("\n\n".join([header, *sections]) + "\n")
    table.to_csv(out / "table.csv", index=False)
    return [out / "table.md", out / "table.csv", *written]


def _effects(part: pd.DataFrame) -> tuple[str, str]:
    effects, papers = [], []
    for row in judged(part).itertuples():
        metric = METRICS[row.metric]
        ci = "" if math.isnan(row.diff_low) else " " + _ci(row.diff_low, row.diff_high, metric.digits)
        effects.append(f"{metric.heading}: {_signed(row.diff_mean, metric.digits)}{ci} → {row.verdict}")
        papers.append(row.paper)
    return "<br>".join(effects), "<br>".join(papers)


def write_overview(ablations: list[Ablation], results_dir: str | Path) -> Path:
    """results/README.md: one row per claim and comparison group, with links to each report."""
    rows = []
    for ablation in ablations:
        runs = load_runs(results_dir, ablation.name)
        if runs.empty:
            rows.append([f"**{ablation.name}**: {ablation.claim}", "", "not run yet", "", "", "", ""])
            continue
        write_report(ablation, results_dir)
        table = compare(runs, ablation)
        for key, verdict in claim_verdicts(table).items():
            preset, corpus, _, lr = key
            part = table[(table[GROUP] == pd.Series(key, index=GROUP)).all(axis=1)]
            effect, paper = _effects(part[part["variant"] == ablation.treatment])
            seeds = int(part["runs"].max())
            link = f"[report](reports/{ablation.name}/table.md)"
            rows.append([f"**{ablation.name}**: {ablation.claim} ({ablation.treatment} vs {ablation.baseline})",
                         paper, effect, f"**{verdict}**", f"{preset}, lr {lr:g}, {seeds} seeds", corpus, link])
        for row in judged(lr_sensitivity(runs, ablation)).itertuples():
            digits = _SENSITIVITY.digits
            ci = "" if math.isnan(row.diff_low) else " " + _ci(row.diff_low, row.diff_high, digits)
            rows.append([f"**{ablation.name}**: lower LR sensitivity ({ablation.treatment} vs {ablation.baseline})",
                         row.paper, f"{_SENSITIVITY.label}: {_signed(row.diff_mean, digits)}{ci} → {row.verdict}",
                         f"**{row.verdict}**",
                         f"{row.preset}, lr {_lr_list(row.lrs)}, {row.seeds} seeds", row.corpus_label,
                         f"[report](reports/{ablation.name}/table.md)"])
    text = "\n\n".join([
        "# Results",
        "One row per lecture claim and comparison group (preset, corpus, LR), regenerated by `ablate report --all` "
        "from the runs under `runs/` (each run's config, summary and thinned history are committed; each report "
        "states the device and concurrency its speed figures were measured under). Effects are treatment − baseline, "
        "paired by seed, with 95% CIs; the verdict rule is in the top-level README.",
        markdown_table(["claim", "paper", "our effect [95% CI]", "verdict", "preset, LR, seeds", "corpus", "details"], rows),
    ])
    benchmarks = [f"[{a.name}: {name.removesuffix('.md').replace('_', ' ')}](reports/{a.name}/{name})"
                  for a in ablations for name in _BENCHMARKS if (Path(results_dir) / "reports" / a.name / name).exists()]
    if benchmarks:
        text += "\n\nSpeed measurements (no training runs; each names its device): " + ", ".join(benchmarks) + "."
    path = Path(results_dir) / "README.md"
    path.write_text(text + "\n")
    return path
