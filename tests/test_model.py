import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import ModelConfig, Transformer, kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token
from models.layers import KVCache, Mlp, Norm
from models.positions import Rotary, T5RelativeBias, alibi_slopes

BASE = dict(d_model=32, n_layers=2, n_heads=4, context=16)
# Every value of every axis, each as an override of the base; then combinations the named families use.
AXIS_VALUES = [
    dict(norm="rms"), dict(norm_scale="offset", norm="rms"), dict(norm_scale="none"), dict(norm_bias=False),
    dict(norm_position="post", final_norm=False), dict(norm_position="double"), dict(norm_position="post_block"),
    dict(embed_norm=True), dict(activation="relu"), dict(activation="gelu_tanh"), dict(activation="relu2"),
    dict(activation="silu"), dict(activation="relu", gated=True), dict(activation="gelu", gated=True),
    dict(activation="silu", gated=True), dict(d_ff=48), dict(qkv_bias=False, linear_bias=False),
    dict(block="parallel"), dict(block="parallel", qkv_bias=False), dict(block="parallel_two_norms"),
    dict(pos="sinusoidal"), dict(pos="rope"), dict(pos="rope", rotary_fraction=0.5), dict(pos="rope", rope_layout="interleaved"),
    dict(pos="alibi"), dict(pos="t5"), dict(pos="none"), dict(n_kv_heads=2), dict(n_kv_heads=1), dict(head_dim=16),
    dict(qk_norm="rms"), dict(qk_norm="layer", qk_norm_scope="all"), dict(attn_softcap=5.0), dict(attn_scale=0.1),
    dict(sliding_window=4, layer_pattern=("local",)),
    dict(sliding_window=4, layer_pattern=("local", "global"), pos="rope", global_pos="none", local_rope_theta=100.0),
    dict(tie_embeddings=False), dict(scale_embeddings=True), dict(logit_scale=0.5), dict(output_softcap=3.0),
    dict(z_loss=1e-4), dict(attn_dropout=0.1, resid_dropout=0.1),
    dict(block="parallel", n_kv_heads=1, pos="rope", norm="rms", gated=True, activation="silu", sliding_window=5,
         layer_pattern=("local", "local", "global"), attn_softcap=8.0, qk_norm="rms", n_layers=3),
]
IDS = ["-".join(f"{k}={v}" for k, v in axes.items()) for axes in AXIS_VALUES]


def small(**axes) -> ModelConfig:
    return ModelConfig(**{**BASE, **axes})


@pytest.mark.parametrize("axes", AXIS_VALUES, ids=IDS)
def test_parameter_count_from_config_equals_built_model(axes):
    config = small(**axes)
    model = Transformer(config)
    assert sum(p.numel() for p in model.parameters()) == total_params(config)
    outside = {id(model.tok_emb.weight), id(model.head.weight)}
    outside |= {id(p) for m in (model.pos_emb, model.t5) if m is not None for p in m.parameters()}
    assert sum(p.numel() for p in model.parameters() if id(p) not in outside) == non_embedding_params(config)


@pytest.mark.parametrize("axes", AXIS_VALUES[::3], ids=IDS[::3])
def test_training_flops_match_torch_flop_counter(axes):
    config = small(**axes)
    tokens = torch.randint(0, config.vocab_size, (2, config.context))
    # The math backend spells attention as matmuls, which the counter sees; the fused CPU kernel it does not.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        Transformer(config).eval()(tokens)
    assert 3 * counter.get_total_flops() == training_flops_per_token(config) * tokens.numel()


@pytest.mark.parametrize("axes", AXIS_VALUES, ids=IDS)
def test_finite_causal_and_cached_decoding_equals_full_forward(axes):
    torch.manual_seed(0)
    model = Transformer(small(**axes))
    tokens = torch.randint(0, 256, (2, 16))
    logits = model(tokens)
    (logits.float().logsumexp(-1).mean() + logits.mean()).backward()
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    with torch.no_grad():
        logits = model(tokens)
        changed = tokens.clone()
        changed[:, 10:] = (changed[:, 10:] + 1) % 256
        torch.testing.assert_close(model(changed)[:, :10], logits[:, :10])  # a future token changes nothing before it
        cache = KVCache()
        pieces = [model(tokens[:, :7], cache)] + [model(tokens[:, i : i + 1], cache) for i in range(7, 16)]
        torch.testing.assert_close(torch.cat(pieces, dim=1), logits, atol=1e-5, rtol=1e-5)


def test_kv_cache_size_follows_kv_heads_and_window():
    mha, gqa = small(), small(n_kv_heads=1)
    local = small(sliding_window=4, layer_pattern=("local", "global"))
    assert kv_cache_bytes(mha, 100) == 2 * 2 * 4 * 8 * 2 * 100  # layers · (k, v) · heads · head_dim · bytes · tokens
    assert kv_cache_bytes(gqa, 100) == kv_cache_bytes(mha, 100) // 4
    assert kv_cache_bytes(local, 100) == 2 * 4 * 8 * 2 * (4 + 100)
    model, cache = Transformer(local).eval(), KVCache()
    model(torch.randint(0, 256, (1, 12)), cache)
    held = sum(k.numel() + v.numel() for k, v in cache.held()) * 2
    assert held == kv_cache_bytes(local, 12)


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


def test_generation_matches_step_by_step_argmax_of_the_full_forward():
    torch.manual_seed(0)
    model = Transformer(small(pos="rope", n_kv_heads=2)).eval()
    prompt = torch.randint(0, 256, (2, 5))
    out = model.generate(prompt, new_tokens=6)
    expected = prompt
    for _ in range(6):
        expected = torch.cat([expected, model(expected)[:, -1:].argmax(-1)], dim=1)
    torch.testing.assert_close(out, expected)


def _same_weights(a: Transformer, b: Transformer) -> None:
    b.load_state_dict(a.state_dict())


def test_gqa_with_all_kv_heads_is_mha_and_mqa_equals_repeated_heads():
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 16))
    mha, gqa = Transformer(small()).eval(), Transformer(small(n_kv_heads=4)).eval()
    _same_weights(mha, gqa)
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


def test_a_huge_softcap_equals_none():
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 16))
    plain = Transformer(small()).eval()
    capped = Transformer(small(attn_softcap=1e6, output_softcap=1e7)).eval()
    _same_weights(plain, capped)
    torch.testing.assert_close(capped(tokens), plain(tokens), atol=1e-4, rtol=1e-4)


def test_parallel_block_is_the_sum_of_both_branches_on_one_normalised_input():
    torch.manual_seed(0)
    block = Transformer(small(block="parallel", pos="rope")).blocks[0].eval()
    x, positions = torch.randn(2, 16, 32), torch.arange(16)
    h = block.branch.norm_in(x)
    qkv_w, mlp_w = block.in_proj.weight.split([block.attn.in_features, block.mlp.in_features])
    attn = block.attn.attend(F.linear(h, qkv_w, block.qkv_bias), positions)
    mlp = block.mlp.activate(F.linear(h, mlp_w, block.mlp_bias))
    torch.testing.assert_close(block(x, positions, None, None), x + attn + mlp)


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


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_rope_scores_depend_only_on_relative_position(layout):
    torch.manual_seed(0)
    rotary = Rotary(dims=8, context=32, theta=10_000.0, layout=layout)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> torch.Tensor:
        return (rotary(q, torch.tensor([i])) * rotary(k, torch.tensor([j]))).sum()

    torch.testing.assert_close(score(5, 2), score(20, 17))
    torch.testing.assert_close(score(0, 0), (q * k).sum())  # position 0 is not rotated
    assert not torch.allclose(score(5, 2), score(5, 4))


def test_partial_rotary_leaves_the_other_dims_alone():
    rotary = Rotary(dims=4, context=8, theta=10_000.0, layout="half")
    x = torch.randn(1, 1, 3, 8)
    torch.testing.assert_close(rotary(x, torch.arange(3))[..., 4:], x[..., 4:])


def test_alibi_slopes_and_bias_match_the_paper():
    # Press et al.: for 8 heads the slopes are 1/2, 1/4, …, 1/256.
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0**-i for i in range(1, 9)]))
    # Not a power of two: the 4-head sequence, then every other slope of the 8-head one (BLOOM's 6 heads).
    torch.testing.assert_close(alibi_slopes(6), torch.tensor([2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]))
    model = Transformer(small(pos="alibi", n_heads=4)).eval()
    attn = model.blocks[0].attn
    bias = attn._mask(torch.arange(4), torch.arange(4), None)
    assert bias[1, 3, 0] == -attn.slopes[1] * 3 and bias[0, 2, 2] == 0 and bias[0, 1, 2] == float("-inf")


def test_t5_buckets_match_the_formula():
    t5 = T5RelativeBias(n_heads=2, buckets=32, max_distance=128)
    distance = torch.tensor([0, 1, 15, 16, 20, 40, 127, 128, 1000])
    # exact below 16; then 16 + log(d/16)/log(128/16)·16, capped at 31 (Raffel et al. 2020, causal form)
    log_bucket = [16 + int(math.log(d / 16) / math.log(8) * 16) for d in (20, 40)]
    expected = [0, 1, 15, 16, *log_bucket, 31, 31, 31]
    assert t5.bucket(distance).tolist() == expected
    bias = t5(torch.arange(3), torch.arange(3))
    assert bias.shape == (2, 3, 3)
    torch.testing.assert_close(bias[:, 2, 0], t5.table.weight[2])


def test_sliding_window_hides_tokens_beyond_the_window():
    torch.manual_seed(0)
    model = Transformer(small(sliding_window=3, layer_pattern=("local",), n_layers=1, pos="rope")).eval()
    tokens = torch.randint(0, 256, (1, 16))
    changed = tokens.clone()
    changed[0, 5] = (changed[0, 5] + 1) % 256
    diff = (model(changed) - model(tokens)).abs().amax(-1)[0]
    assert diff[:5].max() == 0 and diff[5:8].min() > 0 and diff[8:].max() == 0  # one layer sees 3 tokens


def test_gpt2_init_scales_residual_projections():
    model = Transformer(ModelConfig(d_model=256, n_layers=8, n_heads=4))
    assert model.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].mlp.w_out.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert model.head.weight is model.tok_emb.weight


def test_max_attention_logit_probe_matches_explicit_scores_and_respects_the_softcap():
    torch.manual_seed(0)
    model = Transformer(small(pos="rope", n_kv_heads=2)).eval()
    attn = model.blocks[0].attn
    x, positions = torch.randn(1, 16, 32), torch.arange(16)
    attn.probe = True
    attn(x, positions)
    q, k, _ = attn.qkv(x).split([32, 16, 16], dim=-1)
    q = attn.rotary(q.view(1, 16, 4, 8).transpose(1, 2), positions)
    k = attn.rotary(k.view(1, 16, 2, 8).transpose(1, 2), positions).repeat_interleave(2, dim=1)
    scores = (q @ k.transpose(-2, -1) * 8**-0.5).masked_fill(torch.ones(16, 16).triu(1).bool(), float("-inf"))
    assert attn.max_logit == pytest.approx(scores.max().item(), rel=1e-5)
    capped = Transformer(small(attn_softcap=0.5)).eval()
    with torch.no_grad():
        capped.blocks[0].attn.qkv.weight.mul_(50)  # huge logits before the cap
    capped.blocks[0].attn.probe = True
    capped(torch.randint(0, 256, (1, 16)))
    assert 0.4 < capped.blocks[0].attn.max_logit <= 0.5
