"""Position schemes (models/positions.py) against the papers' formulas."""

import math

import pytest
import torch
from axis_values import small

from models import Transformer
from models.positions import Rotary, T5RelativeBias, alibi_slopes


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


@pytest.mark.parametrize("pos", ["rope", "sinusoidal", "alibi", "t5", "none"])
def test_past_the_training_context_a_model_equals_one_built_for_the_longer_context(pos):
    """Length extrapolation: the grown position tables are the ones a longer-context model would have built."""
    short, long = small(pos=pos, context=16), small(pos=pos, context=64)
    torch.manual_seed(0)
    trained_short = Transformer(short).eval()
    built_long = Transformer(long).eval()
    built_long.load_state_dict(trained_short.state_dict())
    tokens = torch.randint(0, 256, (2, 64))
    torch.testing.assert_close(trained_short(tokens), built_long(tokens))


def test_learned_positions_refuse_to_run_past_the_context():
    with pytest.raises(ValueError, match="learned positions end at context=16"):
        Transformer(small(pos="learned", context=16))(torch.randint(0, 256, (1, 17)))
