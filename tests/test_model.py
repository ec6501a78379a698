import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import ModelConfig, Transformer, non_embedding_params, total_params, training_flops_per_token
from models.layers import LayerNorm, RMSNorm, Rotary, SwiGluMlp

AXES = dict(
    norm=["layer", "rms"],
    norm_position=["pre", "post"],
    mlp=["gelu", "swiglu"],
    pos=["learned", "rope"],
    bias=[True, False],
    tie_embeddings=[True, False],
    final_norm=[True, False],
)
ALL_CONFIGS = [dict(zip(AXES, values)) for values in itertools.product(*AXES.values())]


def small(**axes) -> ModelConfig:
    return ModelConfig(d_model=32, n_layers=2, n_heads=4, context=16, **axes)


@pytest.mark.parametrize("axes", ALL_CONFIGS, ids=lambda a: "-".join(str(v) for v in a.values()))
def test_parameter_count_from_config_equals_built_model(axes):
    config = small(**axes)
    model = Transformer(config)
    assert sum(p.numel() for p in model.parameters()) == total_params(config)
    embedding = {id(model.tok_emb.weight), id(model.head.weight)} | ({id(model.pos_emb.weight)} if model.pos_emb else set())
    assert sum(p.numel() for p in model.parameters() if id(p) not in embedding) == non_embedding_params(config)


@pytest.mark.parametrize("axes", ALL_CONFIGS[::9], ids=lambda a: "-".join(str(v) for v in a.values()))
def test_training_flops_match_torch_flop_counter(axes):
    config = small(**axes)
    tokens = torch.randint(0, config.vocab_size, (2, config.context))
    # The math backend spells attention as matmuls, which the counter sees; the fused CPU kernel it does not.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        Transformer(config)(tokens)
    assert 3 * counter.get_total_flops() == training_flops_per_token(config) * tokens.numel()


@pytest.mark.parametrize("axes", ALL_CONFIGS[::5], ids=lambda a: "-".join(str(v) for v in a.values()))
def test_causal_and_finite(axes):
    torch.manual_seed(0)
    model = Transformer(small(**axes))
    tokens = torch.randint(0, 256, (2, 16))
    changed = tokens.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 256
    logits = model(tokens)
    logits.float().logsumexp(-1).sum().backward()
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    torch.testing.assert_close(model(changed)[:, :10], logits[:, :10])


def test_norms_match_their_formulas():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8)
    layer, rms = LayerNorm(8, 1e-5, bias=True), RMSNorm(8, 1e-5)
    for p in [*layer.parameters(), *rms.parameters()]:
        torch.nn.init.normal_(p)
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(layer(x), (x - mean) / torch.sqrt(var + 1e-5) * layer.weight + layer.bias)
    torch.testing.assert_close(rms(x), x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * rms.weight)


def test_swiglu_matches_formula():
    torch.manual_seed(0)
    mlp = SwiGluMlp(small(mlp="swiglu", bias=False))
    x = torch.randn(2, 3, 32)
    gate, up = mlp.w_in.weight.chunk(2, dim=0)
    torch.testing.assert_close(mlp(x), (F.silu(x @ gate.T) * (x @ up.T)) @ mlp.w_out.weight.T)


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    rotary = Rotary(head_dim=8, context=32, theta=10_000.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(i: int, j: int) -> torch.Tensor:
        qs, ks = torch.zeros(32, 8), torch.zeros(32, 8)
        qs[i], ks[j] = q, k
        return rotary(qs)[i] @ rotary(ks)[j]

    torch.testing.assert_close(score(5, 2), score(20, 17))
    torch.testing.assert_close(score(0, 0), q @ k)  # position 0 is not rotated
    assert not torch.allclose(score(5, 2), score(5, 4))


def test_post_norm_block_output_is_normalised_and_pre_norm_is_not():
    torch.manual_seed(0)
    x = 3 * torch.randn(2, 16, 32)
    post = Transformer(small(norm_position="post", norm="rms")).blocks[0]
    pre = Transformer(small(norm_position="pre", norm="rms")).blocks[0]
    rms = lambda y: y.pow(2).mean(-1).sqrt()  # noqa: E731
    torch.testing.assert_close(rms(post(x)), torch.ones(2, 16), atol=1e-3, rtol=0)  # unit gain at init
    assert rms(pre(x)).mean() > 2


def test_gpt2_init_scales_residual_projections():
    model = Transformer(ModelConfig(d_model=256, n_layers=8, n_heads=4))
    assert model.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].mlp.w_out.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert model.head.weight is model.tok_emb.weight
