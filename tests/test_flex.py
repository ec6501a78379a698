"""The FlexAttention path (models/flex.py) against the explicit reference path, forward, on CPU. PyTorch's CPU
FlexAttention has no backward: gradients through it are checked on a GPU by `ablate doctor`."""

import warnings

import pytest
import torch
from axis_values import small

from models import Transformer

CASES = [
    dict(attn_softcap=5.0),
    dict(sliding_window=4, layer_pattern=("local",)),
    dict(pos="alibi"),
    dict(pos="t5"),
    dict(pos="alibi", attn_softcap=5.0, sliding_window=5, layer_pattern=("local", "global"), n_kv_heads=2),
    dict(pos="t5", attn_softcap=8.0, sliding_window=3, layer_pattern=("local",), n_kv_heads=1),
    dict(pos="rope", sliding_window=6, layer_pattern=("local", "local", "global"), global_pos="none", n_layers=3),
]


@pytest.mark.parametrize("axes", CASES, ids=["-".join(f"{k}={v}" for k, v in c.items()) for c in CASES])
@torch.no_grad()
def test_flex_attention_equals_the_explicit_path(axes):
    torch.manual_seed(0)
    model = Transformer(small(context=32, **axes)).eval()
    tokens = torch.randint(0, 256, (2, 32))
    positions = torch.arange(32)
    x = model.embed(tokens, positions)
    for block in model.blocks:
        attn = block.attn
        q, k, v = attn.qkv(x).split([attn.q_dim, attn.kv_dim, attn.kv_dim], dim=-1)
        q, k, v = attn._heads(q, attn.n_heads), attn._heads(k, attn.n_kv_heads), attn._heads(v, attn.n_kv_heads)
        if attn.pos == "rope":
            q, k = attn.rotary(q, positions), attn.rotary(k, positions)
        reference = attn._explicit(q, k, v, positions, positions, model.t5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # uncompiled FlexAttention warns that it is unfused: expected here
            flex = attn._flex(q, k, v, positions, model.t5)
        torch.testing.assert_close(flex, reference, rtol=1e-5, atol=1e-5)
        x = block(x, positions, None, model.t5)


def test_eager_and_cpu_models_never_take_the_flex_path():
    model = Transformer(small(attn_softcap=5.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FlexAttention's "unfused" warning would fail this
        model(torch.randint(0, 256, (2, 16))).sum().backward()
