"""`ablate report`: regenerate the table (markdown, CSV) and figures of one ablation from stored runs."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the report writes files; no display on clusters or CI (notebooks keep their inline backend)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ablations.declare.metrics import METRICS, PER_RUN, Metric  # noqa: E402
from ablations.declare.spec import Ablation  # noqa: E402
from ablations.judge.analysis import GROUP, SWEEP_GROUP, capped_loss, compare, current, load_history, load_runs, lr_sensitivity  # noqa: E402, E501
from ablations.judge.claims import frame, verdicts  # noqa: E402
from ablations.judge.ladder import Trend, trends  # noqa: E402
from ablations.judge.speed_verdicts import CSV_PREFIX, load_speed  # noqa: E402
from ablations.judge.verdict import Verdict  # noqa: E402
from ablations.reporting.claim_text import ci, claims_table, signed  # noqa: E402
from ablations.reporting.ladder_report import ladder_section  # noqa: E402
from ablations.reporting.markdown import markdown_table  # noqa: E402
from ablations.reporting.plots import plot_grad_norm, plot_layer_grad_norms, plot_losses, plot_lr_sweep  # noqa: E402
from ablations.runs.run_record import RunRecord, ablation_dir  # noqa: E402

_PLOTS = (("loss", plot_losses), ("grad_norm", plot_grad_norm), ("layer_grad_norms", plot_layer_grad_norms))
BENCHMARKS = ("op_profile-", "decode-")  # written by `ablate profile` and `ablate decode-bench`, named by preset
_SENSITIVITY = METRICS["lr_sensitivity"]
_TABLES = {"loss and stability": ("loss", "stability"), "speed, memory and size": ("speed", "size")}


def _pm(mean: float, low: float, high: float, digits: int) -> str:
    if math.isnan(mean):
        return "–"
    exact = math.isnan(low) or low == high  # one seed, or the same on every seed (sizes from the config)
    return f"{mean:.{digits}f}" if exact else f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def _order(ablation: Ablation) -> list[str]:
    """The variants in the order every figure colours them: the baseline first."""
    return [ablation.baseline, *(v for v in ablation.variants if v != ablation.baseline)]


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
        counts = [str(part[c].iloc[0]) for c in ("runs", "diverged", "did_not_train")]
        rows.append([_name(ablation, variant), *counts, *cells])
    return markdown_table(["variant", "runs", "diverged", "did not train", *(m.heading for m in metrics)], rows)


def _differences(ablation: Ablation, table: pd.DataFrame, kinds: tuple[str, ...]) -> str:
    """Per non-baseline variant and registered metric: the paired difference to the baseline with its CI."""
    metrics, rows = _metrics(kinds), []
    for variant, part in table[table["variant"] != ablation.baseline].groupby("variant", sort=False):
        by_metric = part.set_index("metric")
        cells = [f"{signed(r.diff_mean, m.digits)} {ci(r.diff_low, r.diff_high, m.digits)}".replace(" –", "")
                 .replace(" exact", "") for m in metrics for r in [by_metric.loc[m.name]]]
        rows.append([variant, str(int(part["pairs"].iloc[0])), *cells])
    return markdown_table(["variant", "pairs", *(m.heading for m in metrics)], rows)


def _section(ablation: Ablation, runs: pd.DataFrame, table: pd.DataFrame, figures: list[str]) -> str:
    devices = ", ".join(sorted(runs["device"].unique()))
    concurrency = ", ".join(str(c) for c in sorted(runs["concurrency"].unique()))
    return "\n\n".join([
        f"## preset `{table['preset'].iloc[0]}` · corpus `{table['corpus_label'].iloc[0]}` · lr {table['lr'].iloc[0]:g} "
        f"· design `{table['design'].iloc[0]}`",
        f"Device: {devices}; runs timed at concurrency {concurrency} (training-run speeds are information, not evidence).",
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
    """Per sweep group: final loss against LR (figure) and each variant's LR sensitivity and best-LR loss."""
    table = lr_sensitivity(runs, ablation)
    if table.empty:
        return [], []
    sections, written = [], []
    finished = current(runs, ablation)
    finished = finished.assign(capped=capped_loss(finished))
    digits = _SENSITIVITY.digits
    for key, part in table.groupby(SWEEP_GROUP, sort=True):
        preset, corpus, design = key
        path = _figure_path(out, preset, corpus, design, "lr-sweep")
        sweep = finished[(finished[SWEEP_GROUP] == pd.Series(key, index=SWEEP_GROUP)).all(axis=1)]
        plt.close(plot_lr_sweep(sweep, path, title=f"{ablation.name} · {preset} · {corpus}", order=_order(ablation)))
        written.append(path)
        rows = [[_name(ablation, row.variant), str(row.seeds), _pm(row.mean, row.ci_low, row.ci_high, digits),
                 f"{row.best_lr_loss:.3f}", "yes" if row.trained_somewhere else "**no**"] for row in part.itertuples()]
        sections.append("\n\n".join([
            f"## LR sweep · preset `{preset}` · corpus `{corpus}` · lr {_lr_list(part['lrs'].iloc[0])} · design `{design}`",
            "LR sensitivity (Wortsman et al. 2023): per seed, the mean over the sweep of final val loss − the best "
            "of them; a run that diverged or did not train is scored as log(vocab); over seeds that finished every LR. "
            "A variant that never trains has sensitivity 0: read it with its best-LR loss.",
            markdown_table(["variant", "seeds", _SENSITIVITY.heading, "best-LR loss (nats/byte)", "trained at some LR"],
                           rows),
            f"![{path.name}]({path.name})",
        ]))
    return sections, written


def write_report(ablation: Ablation, results_dir: str | Path) -> list[Path]:
    """Write table.md (claims first), table.csv, claims.csv, the figures of each comparison group and of each
    LR sweep; return the paths."""
    return write_report_and_verdicts(ablation, results_dir)[0]


def write_report_and_verdicts(ablation: Ablation, results_dir: str | Path) -> tuple[list[Path], list[Verdict], list[Trend]]:
    """write_report, also returning its verdicts and ladder trends; the runs that count are resolved once, here."""
    runs = load_runs(results_dir, ablation.name)
    out = Path(results_dir) / "reports" / ablation.name
    speed = load_speed(out)
    if runs.empty and speed.empty:
        folder = ablation_dir(results_dir, ablation.name)
        raise FileNotFoundError(f"no finished runs of {ablation.name} under {folder}; run `ablate run {ablation.name}` first")
    out.mkdir(parents=True, exist_ok=True)
    counted = current(runs, ablation)
    found = verdicts(counted, ablation, speed)
    sections, written = [], []
    table = compare(counted, ablation) if not runs.empty else pd.DataFrame()
    if not table.empty:
        histories = dict(list(load_history(results_dir, ablation.name, counted).groupby(GROUP)))
        group_runs = dict(list(counted.groupby(GROUP)))
        newest = {key: part["finished_at"].max() for key, part in group_runs.items()}
        for key, part in sorted(table.groupby(GROUP, sort=True), key=lambda item: newest[item[0]], reverse=True):
            preset, corpus, design, lr = key  # the newest results first: a user's own runs before older ones
            figures = []
            for name, plot in _PLOTS if key in histories else ():
                path = _figure_path(out, preset, corpus, design, f"lr{lr:g}", name)
                history = histories[key]
                title = f"{ablation.name} · {preset} · {corpus} · lr {lr:g}"
                kept = history[~history["superseded"] & history["variant"].isin(list(ablation.variants))]
                plt.close(plot(kept, path, title=title, order=_order(ablation)))
                figures.append(path.name)
                written.append(path)
            sections.append(_section(ablation, group_runs[key], part, figures))
        sweep_sections, sweep_figures = _sweep_sections(ablation, counted, out)
        sections += sweep_sections
        written += sweep_figures
        table.to_csv(out / "table.csv", index=False)  # only with runs of the declared variants
    header = f"# {ablation.name}\n\nHeadline: {ablation.headline}. Source: {ablation.source}."
    header += _left_out(runs, counted)
    if unfinished := sum(not record.is_done for record in RunRecord.every(results_dir, ablation.name)):
        header += (f"\n\n{unfinished} run(s) have no results yet (queued, running, interrupted, failed or cancelled): "
                   f"`ablate status {ablation.name}` shows which, with the log of each failure.")
    benchmarks = [f"[{p.name}]({p.name})" for p in sorted(out.glob("*.md")) if p.name.startswith((CSV_PREFIX, *BENCHMARKS))]
    if benchmarks:
        header += "\n\nSpeed measurements beside this report: " + ", ".join(benchmarks) + "."
    confirmatory = [v for v in found if not v.exploratory]
    claims_text = ("## Claims\n\nEffects are treatment − baseline paired by seed (speed: by "
                   "benchmark round), with 95% CIs. 'Detectable' is the smallest effect these pairs find with 80% "
                   "power; 'seeds needed' what the claim's target needs.\n\n" + claims_table(confirmatory)) if found else ""
    if explored := [v for v in found if v.exploratory]:
        claims_text += ("\n\n### Exploratory\n\nSeeds on which every run of the claim's variants was trained before the "
                        "claim took its current form: shown apart, counted in no verdict.\n\n" + claims_table(explored))
    along = trends(found, counted, ablation)
    ladder_text, ladder_files = ladder_section(along, out)
    written += ladder_files
    (out / "table.md").write_text("\n\n".join(filter(None, [header, claims_text, ladder_text, *sections])) + "\n")
    frame(found).to_csv(out / "claims.csv", index=False)
    return [out / "table.md", out / "claims.csv", *([out / "table.csv"] if not table.empty else []), *written], found, along


def _left_out(runs: pd.DataFrame, counted: pd.DataFrame) -> str:
    """Which finished runs the tables leave out, and why."""
    if runs.empty:
        return ""
    ineligible = runs[~runs["eligible"]]
    text = ""
    if len(ineligible):
        kinds = ineligible.groupby("provenance")["variant"].agg(lambda v: ", ".join(f"{n} {k}" for k, n in
                                                                                  v.value_counts().sort_index().items()))
        text += (f"\n\n{len(ineligible)} run(s) trained from an uncommitted or unrecorded tree are left out (reference "
                 "runs count only when trained from a clean, committed tree; rerun them from one): "
                 + "; ".join(f"{kind}: {variants}" for kind, variants in kinds.items()) + ".")
    if older := len(runs) - len(ineligible) - len(counted):
        text += f"\n\n{older} run(s) of older or dropped variant definitions, or repeated seeds, are left out."
    return text
