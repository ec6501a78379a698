"""Validation loss past the training context (ablations/training/extrapolation.py) against its definition."""

import torch
import torch.nn.functional as F
from conftest import make_spec

from ablations.data.batches import VAL_SEED, batch_at
from ablations.data.corpus import read_tokens, split
from ablations.training.extrapolation import (
    BUCKETS_PER_CONTEXT,
    FACTORS,
    curve_name,
    long_context_losses,
    metric_name,
    past_context_name,
)
from ablations.training.train import train
from models import Transformer


def test_each_length_scores_as_many_tokens_as_a_regular_evaluation(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, pos="rope")
    torch.manual_seed(0)
    model = Transformer(spec.model)
    got = long_context_losses(model, spec.corpus, spec.model, spec.train)
    val = split(read_tokens(spec.corpus), "val")
    for factor in FACTORS:
        # Bytes: the per-byte rule's factor is exactly 1, so the values are the per-token ones bit for bit.
        by_position = torch.zeros(factor * spec.model.context, dtype=torch.float64)
        for i in range(spec.train.eval_batches):
            x, y = batch_at(val, VAL_SEED, i, spec.train.batch_size // factor, factor * spec.model.context)
            with torch.no_grad():
                by_position += F.cross_entropy(model(x).transpose(1, 2), y, reduction="none").mean(0).double()
        by_position *= 1.0 / spec.train.eval_batches
        assert got[metric_name(factor)] == by_position.mean().item()
        assert got[past_context_name(factor)] == by_position[spec.model.context:].mean().item()
        losses, past = [], []
        for i in range(spec.train.eval_batches):
            x, y = batch_at(val, VAL_SEED, i, spec.train.batch_size // factor, factor * spec.model.context)
            with torch.no_grad():
                logits = model(x)
            losses.append(F.cross_entropy(logits.flatten(0, 1), y.flatten()).item())
            beyond = slice(spec.model.context, None)  # the positions the model never trained at
            past.append(F.cross_entropy(logits[:, beyond].flatten(0, 1), y[:, beyond].flatten()).item())
        assert abs(got[metric_name(factor)] - sum(losses) / len(losses)) < 1e-5
        assert abs(got[past_context_name(factor)] - sum(past) / len(past)) < 1e-5
        curve = got[curve_name(factor)]  # equal-width buckets: their mean is the whole window's
        assert len(curve) == factor * BUCKETS_PER_CONTEXT and abs(sum(curve) / len(curve) - got[metric_name(factor)]) < 1e-4
    assert model.training  # left as it was found


def test_a_trained_run_records_its_long_context_losses_and_learned_positions_none(corpus, tmp_path):
    rope = train(make_spec(corpus, tmp_path / "rope", pos="rope"))
    learned = train(make_spec(corpus, tmp_path / "learned", pos="learned"))
    for factor in FACTORS:
        assert 0 < rope[metric_name(factor)] < 6  # finite, below a uniform guess over bytes (5.55)
        assert 0 < rope[past_context_name(factor)] < 6 and len(rope[curve_name(factor)]) == factor * BUCKETS_PER_CONTEXT
        assert learned[metric_name(factor)] is learned[past_context_name(factor)] is learned[curve_name(factor)] is None
