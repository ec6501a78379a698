"""Validation loss past the training context: the length-extrapolation test of Press et al. 2022 (ALiBi,
arXiv 2108.12409). A model trained on sequences of `context` tokens scores validation windows of 2× and 4×
that length: the loss over every position of the window (the paper's perplexity at L_valid), the loss over the
positions past the training context alone (those the model never trained at; the whole-window figure mixes in
the in-range first quarter or half), and the curve by position in windows of context/4. Learned positions have no
embedding past the context, so their runs record no value. Each figure is in nats per byte over exactly the targets
it covers: their mean nats per token times their own tokens per byte, which is their total nats over their total
bytes (every window holds as many targets at each position). For bytes the factor is exactly 1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ablations.data.batches import VAL_SEED, batch_at
from ablations.data.corpus import Corpus, read_split, token_bytes
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


def _per_byte(by_position: torch.Tensor, bytes_at: torch.Tensor, at: slice | torch.Tensor, windows: int) -> float:
    """Mean nats/token over the positions `at` × their targets' tokens/byte: their nats over their bytes."""
    targets = by_position[at].numel() * windows
    return by_position[at].mean().item() * (targets / bytes_at[at].sum().item())


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
    tokens, lengths = read_split(corpus, "val"), torch.from_numpy(token_bytes(corpus))
    was_training, out = model.training, {}
    model.eval()
    for factor in FACTORS:
        by_position = torch.zeros(factor * config.context, dtype=torch.float64)  # mean nats/token at each position
        bytes_at = torch.zeros(factor * config.context, dtype=torch.int64)  # the scored targets' bytes there
        rows = max(1, train.batch_size // factor)
        for i in range(train.eval_batches):
            x, y = batch_at(tokens, VAL_SEED, i, rows, factor * config.context)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x.to(device))
            losses = F.cross_entropy(logits.float().transpose(1, 2), y.to(device), reduction="none")  # (B, T)
            by_position += losses.mean(0).double().cpu()
            bytes_at += lengths[y].sum(0)
        by_position *= 1.0 / train.eval_batches
        windows = rows * train.eval_batches
        out[metric_name(factor)] = _per_byte(by_position, bytes_at, slice(None), windows)
        out[past_context_name(factor)] = _per_byte(by_position, bytes_at, slice(config.context, None), windows)
        buckets = torch.tensor_split(torch.arange(factor * config.context), factor * BUCKETS_PER_CONTEXT)
        out[curve_name(factor)] = [round(_per_byte(by_position, bytes_at, bucket, windows), 5) for bucket in buckets]
    model.train(was_training)
    return out
