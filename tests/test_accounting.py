"""Counts from the config alone (models/accounting.py) against the built model and torch's own counters."""

import pytest
import torch
from axis_values import AXIS_VALUES, IDS, small
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models import Transformer, kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token
from models.accounting import attention_flops_per_token
from models.layers import KVCache


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
    # A local layer's masked-out scores are computed here but not counted as useful FLOPs: compare as all-global.
    computed = config.replace(layer_pattern=("global",))
    assert 3 * counter.get_total_flops() == training_flops_per_token(computed) * tokens.numel()


def test_a_sliding_window_counts_only_the_keys_a_query_sees():
    full, hybrid = small(context=16), small(context=16, sliding_window=4, layer_pattern=("local", "global"))
    assert attention_flops_per_token(full) == 12 * 4 * 8 * (16 + 16)  # heads · head_dim · keys per layer
    assert attention_flops_per_token(hybrid) == 12 * 4 * 8 * (4 + 16)
    assert training_flops_per_token(full) - training_flops_per_token(hybrid) == 12 * 4 * 8 * 12


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
