import dataclasses
import math
import statistics

import pytest
from conftest import make_spec

from ablations.declare import metrics
from ablations.declare.metrics import METRICS, PER_RUN, Metric, RunRows, count_loss_spikes, summary_values
from ablations.declare.spec import Ablation, Claim
from ablations.judge.analysis import compare, load_runs
from ablations.judge.claims import judge
from ablations.reporting.report import write_report
from ablations.training.train import train
from models import ModelConfig, kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token


def _rows(n_train=100, steps=100, diverged=False):
    train_rows = [{"split": "train", "step": s, "loss": 3.0 - s / 100, "log_z": float(s), "tokens_per_s": 1000.0 + s,
                   "step_time_s": 1 / (1000.0 + s)} for s in range(1, n_train + 1)]
    val_rows = [{"split": "val", "step": s, "loss": 2.0 + 1 / s, "max_attn_logit": [float(s), 2.0 * s]} for s in (50, 100)]
    return RunRows.of(train_rows + val_rows, steps=steps, diverged=diverged)


def test_each_reduction_matches_its_definition():
    model = ModelConfig(d_model=32, n_layers=2, n_heads=4, context=16, n_kv_heads=2)
    measured = {"peak_memory_bytes": 123, "mfu": 0.4, "val_loss_at_2x_context": 2.5, "val_loss_at_4x_context": None,
                "val_loss_past_context_at_2x": 2.7, "val_loss_past_context_at_4x": None, "train_passes": 1.5}
    values = summary_values(_rows(), model, measured=measured)
    timed = range(11, 101)  # steps past the first 10% of the run
    assert values["final_val_loss"] == 2.0 + 1 / 100 and values["best_val_loss"] == 2.0 + 1 / 100
    assert values["final_train_loss"] == pytest.approx(2.0)
    assert values["end_train_loss"] == pytest.approx(statistics.fmean(3.0 - s / 100 for s in range(91, 101)))
    assert values["val_loss_at_2x_context"] == 2.5 and values["val_loss_at_4x_context"] is None
    assert values["val_loss_past_context_at_2x"] == 2.7 and values["val_loss_past_context_at_4x"] is None
    assert values["mean_log_z"] == pytest.approx(statistics.fmean(timed))
    assert values["tokens_per_s"] == statistics.median(1000.0 + s for s in timed)
    assert values["step_time_s"] == statistics.median(1 / (1000.0 + s) for s in timed)
    assert values["max_attn_logit"] == [100.0, 200.0] and values["loss_spikes"] == 0
    assert values["peak_memory_bytes"] == 123
    assert values["params"] == total_params(model) and values["non_embedding_params"] == non_embedding_params(model)
    assert values["flops_per_token"] == training_flops_per_token(model)
    assert values["kv_cache_bytes_at_context"] == kv_cache_bytes(model, 16)
    assert values["kv_cache_bytes_per_token"] == 2 * 2 * 8 * 2 * 2  # K and V · 2 KV heads · head_dim 8 · bf16 · layers
    assert values["attention_flops_per_token"] == 12 * 4 * 8 * 16 * 2  # heads · head_dim · keys · layers
    assert set(values) == {m.name for m in PER_RUN}
    diverged = summary_values(_rows(diverged=True), model, measured)
    assert diverged["final_val_loss"] is None and diverged["end_train_loss"] is None


def test_table_values_apply_the_unit_and_reduce_layers_to_their_maximum():
    assert METRICS["max_attn_logit"].value([3.0, 7.5, 1.0]) == 7.5
    assert METRICS["peak_memory_bytes"].value(3 * 2**20) == 3.0  # MiB
    assert METRICS["params"].value(1_500_000) == 1.5  # millions
    assert METRICS["final_val_loss"].value(None) is None and METRICS["final_val_loss"].value(math.nan) is None


def test_every_metric_has_one_source_a_direction_and_a_unit_label():
    for metric in METRICS.values():
        sources = [metric.from_rows is not None, metric.from_config is not None, metric.measured, metric.across_runs]
        assert sum(sources) == 1, metric.name
        assert metric.better in ("lower", "higher") and metric.heading.startswith(metric.label)


def test_a_claim_must_name_a_registered_metric():
    with pytest.raises(ValueError, match="'loss' is not a registered metric"):
        Claim(says="s", treatment="t", baseline="b", metric="loss", direction="lower", target=0.01, why="w")


def test_loss_spikes_are_counted_against_the_rolling_mean():
    calm = [2.0 + 0.01 * (i % 3) for i in range(200)]
    assert count_loss_spikes(calm) == 0
    spiky = list(calm)
    spiky[120] = 3.0
    spiky[180] = 2.5
    assert count_loss_spikes(spiky) == 2


def test_a_metric_added_to_the_registry_reaches_the_summary_the_comparison_and_the_report(corpus, tmp_path, monkeypatch):
    """Adding a metric is one registry entry plus what measures it (here a reduction of rows that exist)."""
    peak = Metric(name="peak_grad_norm", kind="stability", label="peak gradient norm", digits=2, better="lower",
                  from_rows=lambda rows: max(r["grad_norm"] for r in rows.train))
    monkeypatch.setattr(metrics, "PER_RUN", [*metrics.PER_RUN, peak])
    monkeypatch.setitem(metrics.METRICS, peak.name, peak)
    for module in ("ablations.judge.analysis", "ablations.reporting.report"):
        monkeypatch.setattr(f"{module}.PER_RUN", metrics.PER_RUN)
    specs = [dataclasses.replace(make_spec(corpus, tmp_path, steps=10, seed=seed, variant=v, norm=norm), ablation="a")
             for seed in (0, 1) for v, norm in (("ln", "layer"), ("rms", "rms"))]
    summaries = [train(spec) for spec in specs]
    assert all(s["peak_grad_norm"] == max(r["grad_norm"] for r in spec.record.read_rows() if r["split"] == "train")
               for s, spec in zip(summaries, specs))
    claim = Claim(says="RMSNorm lowers it", treatment="rms", baseline="ln", metric="peak_grad_norm",
                  direction="lower", target=0.1, why="w")
    ablation = Ablation(name="a", headline="h", source="s", base={}, variants={"ln": {}, "rms": {}}, baseline="ln",
                        claims=(claim,))
    runs = load_runs(tmp_path, "a")
    table = compare(runs, ablation)
    assert table[(table["metric"] == "peak_grad_norm") & (table["variant"] == "rms")].iloc[0]["pairs"] == 2
    (row,) = judge(runs, ablation).itertuples()
    assert row.metric == "peak_grad_norm" and row.pairs == 2
    report = write_report(ablation, tmp_path)[0].read_text()
    assert report.count("peak gradient norm") == 3  # the claims table, the levels table and the differences table


def test_mfu_uses_the_dense_bf16_peak_of_the_named_device():
    from ablations.training.device import peak_flops

    assert peak_flops("NVIDIA H100 80GB HBM3") == 989.4e12  # SXM: not the 1,979 TFLOP/s sparse figure
    assert peak_flops("NVIDIA H100 PCIe") == 756e12 and peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_flops("cpu: AMD EPYC, 2 threads") is None and peak_flops("NVIDIA T4") is None
    assert METRICS["mfu"].value(0.4123) == pytest.approx(41.23)  # shown in percent
