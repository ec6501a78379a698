"""Validation loss past the training context: the length-extrapolation test of Press et al. 2022 (ALiBi,
arXiv 2108.12409). A model trained on sequences of `context` tokens scores validation windows of 2× and 4×
that length: the loss over every position of the window (the paper's perplexity at L_valid), the loss over the
positions past the training context alone (those the model never trained at; the whole-window figure mixes in
the in-range first quarter or half), and the curve by position in windows of context/4. Learned positions have no
embedding past the context, so their runs record no value."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ablations.data.batches import VAL_SEED, batch_at
from ablations.data.corpus import Corpus, read_split, tokens_per_byte
from ablations.declare.train_config import TrainConfig
from models import ModelConfig, Transformer

FACTORS = (2, 4)


def metric_name(factor: int) -> str:
    return f"val_loss_at_{factor}x_context"


def past_context_name(factor: int) -> str:
    return f"val_loss_past_context_at_{factor}x"


def curve_name(factor: int) -> str:
    return f"val_loss_by_position_at_{factor}x"


BUCKETS_PER_CONTEXT = 4  # the curve's resolution: a point per quarter of the training context


@torch.no_grad()
def long_context_losses(model: Transformer, corpus: Corpus, config: ModelConfig, train: TrainConfig,
                        diverged: bool = False) -> dict[str, float | None]:
    """At each factor × the training context, the mean validation loss (nats/byte) over the whole window and over
    its positions past the context, and the loss by position (a list); None for a diverged run or learned positions.
    Each length sees as many tokens as one regular evaluation (the batch shrinks as the windows grow), drawn like
    the regular ones."""
    names = [name(f) for f in FACTORS for name in (metric_name, past_context_name, curve_name)]
    if diverged or config.pos == "learned":
        return dict.fromkeys(names)
    device = next(model.parameters()).device
    tokens, per_byte = read_split(corpus, "val"), tokens_per_byte(corpus, "val")
    was_training, out = model.training, {}
    model.eval()
    for factor in FACTORS:
        by_position = torch.zeros(factor * config.context, dtype=torch.float64)
        for i in range(train.eval_batches):
            x, y = batch_at(tokens, VAL_SEED, i, max(1, train.batch_size // factor), factor * config.context)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x.to(device))
            losses = F.cross_entropy(logits.float().transpose(1, 2), y.to(device), reduction="none")  # (B, T)
            by_position += losses.mean(0).double().cpu()
        by_position *= per_byte / train.eval_batches
        out[metric_name(factor)] = by_position.mean().item()
        out[past_context_name(factor)] = by_position[config.context:].mean().item()
        buckets = torch.tensor_split(by_position, factor * BUCKETS_PER_CONTEXT)
        out[curve_name(factor)] = [round(bucket.mean().item(), 5) for bucket in buckets]
    model.train(was_training)
    return out
