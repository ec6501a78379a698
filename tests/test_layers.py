"""Norms, MLPs, attention and the KV cache (models/layers.py) against their formulas and equivalences."""

import math

import pytest
import torch
import torch.nn.functional as F
from axis_values import small

from models import ModelConfig, Transformer
from models.layers import KVCache, Mlp, Norm


def test_kv_cache_appends_in_place_reallocating_only_logarithmically_often():
    model = Transformer(small(pos="rope", context=256, sliding_window=8, layer_pattern=("local", "global"))).eval()
    cache, buffers = KVCache(), []
    with torch.no_grad():
        for token in torch.randint(0, 256, (1, 200)).T:
            model(token[:, None], cache)
            buffers.append(tuple(k.data_ptr() for k, _, _ in cache.buffers.values()))
            assert [k.size(2) for k, _ in cache.held()] == [min(8, cache.length), cache.length]
    global_layer = {ptrs[1] for ptrs in buffers}
    assert len(global_layer) <= math.ceil(math.log2(200)) + 1  # doubling: O(log n) copies of the cache, not n


def test_gqa_with_all_kv_heads_is_mha_and_mqa_equals_repeated_heads():
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 16))
    mha, gqa = Transformer(small()).eval(), Transformer(small(n_kv_heads=4)).eval()
    gqa.load_state_dict(mha.state_dict())
    torch.testing.assert_close(gqa(tokens), mha(tokens))
    # MQA = MHA whose K and V projections are the same for every head.
    mqa, mha = Transformer(small(n_kv_heads=1)).eval(), Transformer(small()).eval()
    state = mqa.state_dict()
    for i in range(2):
        q, k, v = state[f"blocks.{i}.attn.qkv.weight"].split([32, 8, 8])
        qb, kb, vb = state[f"blocks.{i}.attn.qkv.bias"].split([32, 8, 8])
        state[f"blocks.{i}.attn.qkv.weight"] = torch.cat([q, k.repeat(4, 1), v.repeat(4, 1)])
        state[f"blocks.{i}.attn.qkv.bias"] = torch.cat([qb, kb.repeat(4), vb.repeat(4)])
    mha.load_state_dict(state)
    torch.testing.assert_close(mha(tokens), mqa(tokens))


def test_norms_match_their_formulas():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8)
    layer, rms = Norm("layer", 8, small()), Norm("rms", 8, small())
    gemma = Norm("rms", 8, small(norm_scale="offset"))
    for p in [*layer.parameters(), *rms.parameters(), *gemma.parameters()]:
        torch.nn.init.normal_(p)
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(layer(x), (x - mean) / torch.sqrt(var + 1e-5) * layer.weight + layer.bias)
    unit = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
    torch.testing.assert_close(rms(x), unit * rms.weight)
    torch.testing.assert_close(gemma(x), unit * (1 + gemma.weight))


@pytest.mark.parametrize("activation, fn", [("relu", F.relu), ("gelu", F.gelu), ("silu", F.silu)])
def test_gated_mlps_match_their_formulas(activation, fn):
    torch.manual_seed(0)
    mlp = Mlp(small(activation=activation, gated=True, linear_bias=False))
    x = torch.randn(2, 3, 32)
    gate, up = mlp.w_in.weight.chunk(2, dim=0)
    torch.testing.assert_close(mlp(x), (fn(x @ gate.T) * (x @ up.T)) @ mlp.w_out.weight.T)


def test_sliding_window_hides_tokens_beyond_the_window():
    torch.manual_seed(0)
    model = Transformer(small(sliding_window=3, layer_pattern=("local",), n_layers=1, pos="rope")).eval()
    tokens = torch.randint(0, 256, (1, 16))
    changed = tokens.clone()
    changed[0, 5] = (changed[0, 5] + 1) % 256
    diff = (model(changed) - model(tokens)).abs().amax(-1)[0]
    assert diff[:5].max() == 0 and diff[5:8].min() > 0 and diff[8:].max() == 0  # one layer sees 3 tokens



@pytest.mark.parametrize("kind", ["rms", "layer"])
def test_norms_under_bf16_autocast_stay_on_the_fused_kernel_in_float32(kind):
    import warnings

    norm = Norm(kind, 16, ModelConfig(d_model=16, n_heads=2))
    x = torch.randn(3, 16).bfloat16()
    with warnings.catch_warnings(), torch.autocast("cpu", dtype=torch.bfloat16):
        warnings.simplefilter("error")  # "Mismatch dtype … Cannot dispatch to fused implementation" would fail
        out = norm(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, norm(x.float()))
