"""torch.compile (CPU inductor) against eager: same logits and gradients on every variant axis, and a compiled
training run that is the eager run up to float rounding."""

import pytest
import torch
from axis_values import small
from conftest import make_spec

from ablations.train import train
from models import Transformer

# Every axis of tests/axis_values.py, packed into a few models so each compilation covers many axes at once.
PACKED = [
    dict(norm="rms", norm_position="double", activation="silu", gated=True, pos="rope", rope_layout="interleaved",
         rotary_fraction=0.5, n_kv_heads=2, qk_norm="rms", attn_softcap=5.0, sliding_window=4,
         layer_pattern=("local", "global"), global_pos="none", z_loss=1e-4, output_softcap=3.0, tie_embeddings=False),
    dict(norm="layer", norm_position="post", final_norm=False, activation="relu2", pos="alibi", block="parallel",
         n_kv_heads=1, qk_norm="layer", qk_norm_scope="all", scale_embeddings=True, logit_scale=0.5, embed_norm=True),
    dict(norm="none", norm_position="post_block", activation="gelu_tanh", pos="t5", head_dim=16, attn_scale=0.1,
         qkv_bias=False, linear_bias=False, sliding_window=3, layer_pattern=("local",)),
    dict(norm="rms", norm_scale="offset", activation="gelu", gated=True, pos="sinusoidal", block="parallel_two_norms",
         d_ff=48, norm_bias=False),
]  # learned and no positions add or skip one table lookup, which compiles like any embedding


@pytest.mark.parametrize("axes", PACKED, ids=[f"packed{i}" for i in range(len(PACKED))])
def test_compiled_logits_and_gradients_equal_eager(axes):
    torch.manual_seed(0)
    eager = Transformer(small(**axes))
    compiled = Transformer(small(**axes))
    compiled.load_state_dict(eager.state_dict())
    compiled.compile(backend="inductor")
    tokens = torch.randint(0, 256, (2, 16))
    outputs = []
    for model in (eager, compiled):
        logits = model(tokens)
        logits.float().logsumexp(-1).mean().backward()
        outputs.append((logits, {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-4, atol=1e-5)
    for name, grad in outputs[0][1].items():
        torch.testing.assert_close(outputs[1][1][name], grad, rtol=1e-3, atol=1e-5, msg=name)


def test_a_compiled_run_is_the_eager_run_under_its_own_id(corpus, tmp_path):
    eager_spec = make_spec(corpus, tmp_path, steps=10, eval_every=10, pos="rope", norm="rms")
    compiled_spec = make_spec(corpus, tmp_path, steps=10, eval_every=10, pos="rope", norm="rms").__class__(
        **{**eager_spec.__dict__, "compile": True})
    assert compiled_spec.run_id != eager_spec.run_id
    eager, compiled = train(eager_spec), train(compiled_spec)
    assert compiled["compile"] is True and eager["compile"] is False
    assert abs(compiled["final_val_loss"] - eager["final_val_loss"]) < 1e-3
    assert compiled["first_step_excess_s"] > eager["first_step_excess_s"]  # the compilation, recorded apart
