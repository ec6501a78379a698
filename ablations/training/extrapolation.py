"""Validation loss past the training context: the length-extrapolation test of Press et al. 2022 (ALiBi,
arXiv 2108.12409). A model trained on sequences of `context` tokens scores validation windows of 2× and 4×
that length, the loss averaged over every position of the window, as in the paper's perplexity at L_valid.
Learned positions have no embedding past the context, so their runs record no value."""

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


@torch.no_grad()
def long_context_losses(model: Transformer, corpus: Corpus, config: ModelConfig, train: TrainConfig,
                        diverged: bool = False) -> dict[str, float | None]:
    """Mean validation loss (nats/byte) at each factor × the training context, None for a diverged run or
    learned positions. Each length sees as many tokens as one regular evaluation (the batch shrinks as the
    windows grow), drawn like the regular ones."""
    if diverged or config.pos == "learned":
        return {metric_name(f): None for f in FACTORS}
    device = next(model.parameters()).device
    tokens, per_byte = read_split(corpus, "val"), tokens_per_byte(corpus, "val")
    was_training, out = model.training, {}
    model.eval()
    for factor in FACTORS:
        total = 0.0
        for i in range(train.eval_batches):
            x, y = batch_at(tokens, VAL_SEED, i, max(1, train.batch_size // factor), factor * config.context)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x.to(device))
            total += F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten()).item()
        out[metric_name(factor)] = total / train.eval_batches * per_byte
    model.train(was_training)
    return out
