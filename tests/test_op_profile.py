from __future__ import annotations

import os

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from ablations.bench.op_profile import (
    CLASSES,
    _autograd_node,
    _event_classes,
    _profiled_steps,
    _without_kineto_notices,
    classify,
    operator_shares,
    write_operator_profile,
)
from ablations.catalogue import get_ablation
from ablations.declare.presets import get_preset
from ablations.runs.resolve import model_config
from models import ModelConfig, Transformer, training_flops_per_token

NORMS = get_ablation("rmsnorm_vs_layernorm")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a loaded machine a spinning thread pool makes tiny ops slow and timings erratic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def norm_shares() -> dict[str, pd.DataFrame]:
    """Both variants at the tiny preset's shape (FLOP shares do not depend on the batch, so a small one)."""
    tiny = get_preset("tiny")
    return {v: operator_shares(model_config(NORMS, v, tiny), batch_size=2, repeats=2) for v in NORMS.variants}


@pytest.mark.parametrize("name, expected", [
    ("aten::mm", "tensor contraction"),
    ("aten::addmm", "tensor contraction"),
    ("aten::bmm", "tensor contraction"),
    ("aten::linear", "tensor contraction"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu", "tensor contraction"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu_backward", "tensor contraction"),
    ("aten::_efficient_attention_backward", "tensor contraction"),
    ("aten::layer_norm", "normalisation"),
    ("aten::native_layer_norm", "normalisation"),
    ("aten::native_layer_norm_backward", "normalisation"),
    ("aten::rms_norm", "normalisation"),
    ("aten::_fused_rms_norm", "normalisation"),
    ("aten::_fused_rms_norm_backward", "normalisation"),
    ("aten::_log_softmax", "softmax"),
    ("aten::_log_softmax_backward_data", "softmax"),
    ("aten::_softmax", "softmax"),
    ("aten::add", "element-wise"),
    ("aten::add_", "element-wise"),
    ("aten::mul", "element-wise"),
    ("aten::gelu", "element-wise"),
    ("aten::gelu_backward", "element-wise"),
    ("aten::silu_backward", "element-wise"),
    ("aten::copy_", "element-wise"),
    ("aten::embedding", "other"),
    ("aten::index_select", "other"),
    ("aten::sum", "other"),
    ("aten::nll_loss_forward", "other"),
    ("aten::view", "other"),
])
def test_known_aten_operators_fall_in_their_class(name, expected):
    assert classify(name) == expected


def _inside(event, name: str) -> bool:
    while event is not None and event.name != name:
        event = event.cpu_parent
    return event is not None


def test_a_decomposed_rms_norm_counts_with_normalisation_in_both_passes():
    """On CPU, rms_norm runs as pow, mean, rsqrt and mul, and autograd differentiates each: by name alone its
    backward would look element-wise. All but the loss's sum and the gradient hand-off to the leaves is normalisation."""
    x, weight = torch.randn(4, 8, 16, requires_grad=True), torch.ones(16, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        F.rms_norm(x, (16,), weight).sum().backward()
    events = list(prof.events())
    classes = _event_classes(events)
    backward = [e for e in events if e.name.startswith("aten::") and _autograd_node(e) is not None
                and not _autograd_node(e).name.endswith(("SumBackward0", "AccumulateGrad"))]
    forward = [e for e in events if _inside(e, "aten::rms_norm")]
    assert backward and forward
    assert {classes[id(e)] for e in backward} == {"normalisation"}
    assert {classes[id(e)] for e in forward} == {"normalisation"}


def test_shares_sum_to_one_and_nothing_is_negative(norm_shares):
    for frame in norm_shares.values():
        assert list(frame["class"]) == list(CLASSES)
        assert frame["flop_share"].sum() == pytest.approx(1) and frame["time_share"].sum() == pytest.approx(1)
        assert (frame[["flops", "flop_share", "time_s", "time_share"]] >= 0).all().all()


def test_normalisation_is_timed_and_below_one_percent_of_flops_for_both_norms(norm_shares):
    for variant, frame in norm_shares.items():
        norm = frame.set_index("class").loc["normalisation"]
        assert norm.time_s > 0 and norm.flops > 0, variant
        assert norm.flop_share < 0.01, variant


def test_contraction_flops_match_the_analytic_count():
    """Counted independently from the config: 2 FLOPs per multiply-add, backward = 2 × forward for the weight
    matmuls; attention's QKᵀ and PV over the full T² (FlopCounterMode ignores causality) forward, and five
    such products in the flash backward, which recomputes QKᵀ before the four gradient products."""
    config = ModelConfig(d_model=48, n_layers=3, n_heads=4, context=24, d_ff=80, vocab_size=200)
    batch, t, d, heads, head_dim = 3, config.context, config.d_model, config.n_heads, config.d_model // config.n_heads
    per_block = d * 3 * d + d * d + d * 80 + 80 * d  # qkv, output, MLP in and out
    weight_matmuls = 3 * 2 * batch * t * (config.n_layers * per_block + config.vocab_size * d)  # + tied head
    score_product = 2 * batch * heads * t * t * head_dim  # one of QKᵀ, PV or their gradients, per layer
    attention = config.n_layers * (2 + 5) * score_product
    shares = operator_shares(config, batch_size=batch, repeats=1).set_index("class")
    assert shares.loc["tensor contraction", "flops"] == weight_matmuls + attention
    # The config-only accounting (PaLM's 6N + 12·L·d_attn·T) leaves out just the recomputed QKᵀ.
    recomputed = config.n_layers * score_product
    assert shares.loc["tensor contraction", "flops"] == training_flops_per_token(config) * batch * t + recomputed


def test_the_profile_report_has_every_variant_and_the_paper_row(tmp_path):
    paths = write_operator_profile(NORMS, get_preset("smoke"), tmp_path)
    assert [p.name for p in paths] == ["op_profile-smoke.md", "op_profile-smoke.csv", "op_profile-smoke.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    table = pd.read_csv(tmp_path / "op_profile-smoke.csv")
    assert set(table["variant"]) == set(NORMS.variants)
    assert table.groupby("variant")[["flop_share", "time_share"]].sum().to_numpy() == pytest.approx(1)
    markdown = (tmp_path / "op_profile-smoke.md").read_text()
    assert "| normalisation |" in markdown and "| 0.17 | 25.5 |" in markdown
    assert "preset `smoke`" in markdown and "batch 4 × context 32" in markdown and torch.__version__ in markdown


def test_profiling_passes_on_stderr_lines_but_not_kineto_start_stop_notices(capfd):
    with _without_kineto_notices():
        os.write(2, b"USDT:2026 1:1 SyncActivityProfilerHandler.cpp:52] profiler_start\na warning a user can act on\n")
    model = Transformer(ModelConfig(d_model=16, n_heads=2, n_layers=1, context=8))
    _profiled_steps(model, torch.randint(0, 256, (2, 9)), repeats=1)  # kineto writes its notices here
    err = capfd.readouterr().err
    assert "a warning a user can act on" in err
    assert "USDT" not in err
