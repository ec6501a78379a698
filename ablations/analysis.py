"""Stored runs → tidy pandas frames → comparison table. Everything here reads; nothing trains."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ablations.recorder import read_metrics
from ablations.spec import Ablation
from ablations.stats import mean_ci, overall_verdict, paired_difference_ci, verdict

SPEED_METRICS = ("tokens_per_s", "step_time_s")
TABLE_METRICS = ("final_val_loss", "tokens_per_s", "step_time_s")
GROUP = ["preset", "corpus_label"]  # runs are compared only within one preset and one corpus


def _runs_root(results_dir: str | Path, ablation: str) -> Path:
    return Path(results_dir) / "runs" / ablation


def load_runs(results_dir: str | Path, ablation: str) -> pd.DataFrame:
    """One row per finished run: its summary, with the corpus as `name@sha256[:8]`."""
    rows = [json.loads(p.read_text()) for p in sorted(_runs_root(results_dir, ablation).glob("*/summary.json"))]
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["corpus_label"] = frame["corpus"].map(lambda c: Path(c).name) + "@" + frame["corpus_sha256"].str[:8]
    return frame


def load_history(results_dir: str | Path, ablation: str) -> pd.DataFrame:
    """Every metrics row of every finished run, tagged with its run's identity (tidy: one row per step)."""
    runs = load_runs(results_dir, ablation)
    frames = []
    for run in runs.itertuples():
        rows = pd.DataFrame(read_metrics(_runs_root(results_dir, ablation) / run.run_id / "metrics.jsonl"))
        frames.append(rows.assign(run_id=run.run_id, variant=run.variant, seed=run.seed, preset=run.preset,
                                  corpus_label=run.corpus_label))  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _speed_comparable(group: pd.DataFrame) -> bool:
    """Speed figures compare only when measured on one device under one concurrency."""
    return group["device"].nunique() == 1 and group["concurrency"].nunique() == 1


def compare(runs: pd.DataFrame, ablation: Ablation) -> pd.DataFrame:
    """Tidy table: one row per (preset, corpus, variant, metric) with the mean, its CI, and the
    paired difference to the baseline with its CI and, where the claim names it, the verdict."""
    expected = {e.metric: e for e in ablation.expectations}
    rows = []
    for (preset, corpus), group in runs.groupby(GROUP, sort=True):
        ok = group[~group["diverged"]]
        baseline = ok[ok["variant"] == ablation.baseline].set_index("seed")
        for variant in ablation.variants:
            mine = ok[ok["variant"] == variant].set_index("seed")
            seeds = sorted(set(mine.index) & set(baseline.index))
            for metric in TABLE_METRICS:
                level = mean_ci(mine[metric])
                row = dict(preset=preset, corpus=corpus, variant=variant, metric=metric,
                           runs=int((group["variant"] == variant).sum()),
                           diverged=int(group.loc[group["variant"] == variant, "diverged"].sum()),
                           mean=level.mean, ci_low=level.low, ci_high=level.high)  # fmt: skip
                if variant != ablation.baseline:
                    diff = paired_difference_ci(mine.loc[seeds, metric], baseline.loc[seeds, metric])
                    row.update(diff_mean=diff.mean, diff_low=diff.low, diff_high=diff.high, pairs=diff.n)
                    if variant == ablation.treatment and metric in expected:
                        comparable = metric not in SPEED_METRICS or _speed_comparable(group)
                        row.update(expected=expected[metric].direction, paper=ablation.paper.get(metric, ""),
                                   verdict=verdict(expected[metric], diff) if comparable else "inconclusive")  # fmt: skip
                rows.append(row)
    return pd.DataFrame(rows)


def claim_verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(preset, corpus) → verdict on the whole claim."""
    judged = table.dropna(subset=["verdict"]) if "verdict" in table else table.iloc[0:0]
    return {key: overall_verdict(list(g["verdict"])) for key, g in judged.groupby(["preset", "corpus"])}
