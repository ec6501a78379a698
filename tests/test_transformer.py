"""The model and its blocks (models/transformer.py): causality, caching, block formulas, init and the logit probe."""

import math

import pytest
import torch
import torch.nn.functional as F
from axis_values import AXIS_VALUES, IDS, small

from models import ModelConfig, Transformer
from models.layers import KVCache


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


def test_generation_matches_step_by_step_argmax_of_the_full_forward():
    torch.manual_seed(0)
    model = Transformer(small(pos="rope", n_kv_heads=2)).eval()
    prompt = torch.randint(0, 256, (2, 5))
    out = model.generate(prompt, new_tokens=6)
    expected = prompt
    for _ in range(6):
        expected = torch.cat([expected, model(expected)[:, -1:].argmax(-1)], dim=1)
    torch.testing.assert_close(out, expected)


def test_a_huge_softcap_equals_none():
    torch.manual_seed(0)
    tokens = torch.randint(0, 256, (2, 16))
    plain = Transformer(small()).eval()
    capped = Transformer(small(attn_softcap=1e6, output_softcap=1e7)).eval()
    capped.load_state_dict(plain.state_dict())
    torch.testing.assert_close(capped(tokens), plain(tokens), atol=1e-4, rtol=1e-4)


def test_parallel_block_is_the_sum_of_both_branches_on_one_normalised_input():
    torch.manual_seed(0)
    block = Transformer(small(block="parallel", pos="rope")).blocks[0].eval()
    x, positions = torch.randn(2, 16, 32), torch.arange(16)
    h = block.branch.norm_in(x)
    qkv_w, mlp_w = block.in_proj.weight.split([block.attn.in_features, block.mlp.in_features])
    attn = block.attn.attend(F.linear(h, qkv_w, block.qkv_bias), positions)
    mlp = block.mlp.activate_and_project(F.linear(h, mlp_w, block.mlp_bias))
    torch.testing.assert_close(block(x, positions, None, None), x + attn + mlp)


def block_formula(block, x: torch.Tensor, positions: torch.Tensor, drop) -> torch.Tensor:
    """The block's docstring formula spelled out by hand, with `drop` on each residual branch."""
    def attn(h):
        return block.attn(h, positions)

    if block.kind == "serial":
        x = x + drop(attn(block.attn_branch.norm_in(x)))
        return x + drop(block.mlp(block.mlp_branch.norm_in(x)))
    if block.kind == "parallel_two_norms":
        return x + drop(attn(block.attn_branch.norm_in(x))) + drop(block.mlp(block.mlp_branch.norm_in(x)))
    h = block.branch.norm_in(x)
    qkv_w, mlp_w = block.in_proj.weight.split([block.attn.in_features, block.mlp.in_features])
    attn_out = block.attn.attend(F.linear(h, qkv_w, block.qkv_bias), positions)
    return x + drop(attn_out + block.mlp.activate_and_project(F.linear(h, mlp_w, block.mlp_bias)))


@pytest.mark.parametrize("kind", ["serial", "parallel", "parallel_two_norms"])
def test_residual_dropout_drops_every_branch_of_every_block_kind(kind):
    torch.manual_seed(0)
    block = Transformer(small(block=kind, pos="rope", resid_dropout=0.5)).blocks[0].train()
    x, positions = torch.randn(2, 16, 32), torch.arange(16)
    torch.manual_seed(1)
    out = block(x, positions, None, None)
    torch.manual_seed(1)  # the same masks, drawn in the formula's order
    torch.testing.assert_close(out, block_formula(block, x, positions, lambda h: F.dropout(h, 0.5)))
    assert not torch.allclose(block(x, positions, None, None), out)  # fresh masks on every call
    block.eval()
    torch.testing.assert_close(block(x, positions, None, None), block_formula(block, x, positions, lambda h: h))


def test_gpt2_init_scales_residual_projections():
    model = Transformer(ModelConfig(d_model=256, n_layers=8, n_heads=4))
    assert model.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].mlp.w_out.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert model.head.weight is model.tok_emb.weight


def test_init_options_draw_at_their_declared_scales_and_defaults_keep_the_gpt2_weights():
    shape = dict(d_model=256, n_layers=2, n_heads=4, context=64)
    torch.manual_seed(0)
    default = Transformer(ModelConfig(**shape))
    torch.manual_seed(0)
    explicit = Transformer(ModelConfig(**shape, embed_init_std=0.02, mlp_init="gpt2", sinusoid_scale=1.0))
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), explicit.state_dict().values()))

    wide = Transformer(ModelConfig(**shape, embed_init_std=1.0, tie_embeddings=False))
    assert wide.tok_emb.weight.std().item() == pytest.approx(1.0, rel=0.05)
    assert wide.head.weight.std().item() == pytest.approx(0.02, rel=0.05)
    serial = Transformer(ModelConfig(**shape, mlp_init="fan_in", gated=True))
    assert serial.blocks[0].mlp.w_in.weight.std().item() == pytest.approx(256**-0.5, rel=0.05)
    assert serial.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    fused = Transformer(ModelConfig(**shape, mlp_init="fan_in", block="parallel")).blocks[0]
    attn_rows, mlp_rows = fused.in_proj.weight.split([fused.attn.in_features, fused.mlp.in_features])
    assert (attn_rows.std().item(), mlp_rows.std().item()) == pytest.approx((0.02, 256**-0.5), rel=0.05)


def test_sinusoid_scale_multiplies_the_table_also_past_the_context():
    from models.positions import sinusoidal_table

    model = Transformer(ModelConfig(d_model=32, n_layers=1, n_heads=2, context=16, pos="sinusoidal", sinusoid_scale=0.02))
    assert torch.equal(model.sinusoids, sinusoidal_table(16, 32) * 0.02)
    model(torch.zeros(1, 40, dtype=torch.long))  # past the context: the table grows
    assert torch.allclose(model.sinusoids, sinusoidal_table(40, 32) * 0.02)


def test_max_attention_logits_match_explicit_scores_and_respect_the_softcap():
    torch.manual_seed(0)
    model = Transformer(small(pos="rope", n_kv_heads=2)).eval()
    tokens, positions = torch.randint(0, 256, (1, 16)), torch.arange(16)
    logits, max_logits = model(tokens, return_max_logits=True)
    torch.testing.assert_close(logits, model(tokens))  # the probe changes nothing it measures
    assert max_logits.shape == (2,) and max_logits.dtype == torch.float32
    block = model.blocks[0]
    attn = block.attn
    q, k, _ = attn.qkv(block.attn_branch.norm_in(model.embed(tokens, positions))).split([32, 16, 16], dim=-1)
    q = attn.rotary(q.view(1, 16, 4, 8).transpose(1, 2), positions)
    k = attn.rotary(k.view(1, 16, 2, 8).transpose(1, 2), positions).repeat_interleave(2, dim=1)
    scores = (q @ k.transpose(-2, -1) * 8**-0.5).masked_fill(torch.ones(16, 16).triu(1).bool(), float("-inf"))
    assert max_logits[0].item() == pytest.approx(scores.max().item(), rel=1e-5)
    capped = Transformer(small(attn_softcap=0.5)).eval()
    with torch.no_grad():
        capped.blocks[0].attn.qkv.weight.mul_(50)  # huge logits before the cap
    _, capped_max = capped(torch.randint(0, 256, (1, 16)), return_max_logits=True)
    assert 0.4 < capped_max[0].item() <= 0.5
