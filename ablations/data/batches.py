"""Batches as a pure function of (seed, step): paired variants see identical data in identical
order, and a resumed run picks up exactly where it stopped without any sampler state."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ablations.data.corpus import Corpus, read_split, token_bytes

VAL_SEED = 20_250_415  # fixed: validation batches do not depend on the run's seed


def batch_at(tokens: np.ndarray, seed: int, index: int, batch_size: int, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows drawn from a generator keyed by (seed, index): inputs and next-byte targets."""
    rng = np.random.default_rng([seed, index])
    starts = rng.integers(0, len(tokens) - context, size=batch_size)  # every window of context+1 tokens
    windows = np.stack([tokens[s : s + context + 1] for s in starts]).astype(np.int64)  # (B, T+1)
    return torch.from_numpy(windows[:, :-1]), torch.from_numpy(windows[:, 1:])


def val_tokens_per_byte(corpus: Corpus, n_batches: int, batch_size: int, context: int) -> float:
    """Tokens per byte of exactly the targets the validation batches score (`ValBatches`, a fixed set): their mean
    nats per token times this is their total nats over their total bytes, since every batch holds batch_size × context
    targets. Exactly 1 for bytes. A BPE's windows differ from its whole split's ratio by about ±1%."""
    tokens, lengths = read_split(corpus, "val"), token_bytes(corpus)
    scored = sum(int(lengths[batch_at(tokens, VAL_SEED, i, batch_size, context)[1].numpy()].sum()) for i in range(n_batches))
    return n_batches * batch_size * context / scored


class TrainBatches(IterableDataset):
    """The training batches for steps [start, stop); under DDP each rank takes its share of the rows,
    so the global batch, and the data order, are the same at any number of processes."""

    def __init__(self, corpus: Corpus, seed: int, start: int, stop: int, batch_size: int, context: int,
                 rank: int = 0, world: int = 1) -> None:
        self.corpus, self.seed, self.start, self.stop = corpus, seed, start, stop
        self.batch_size, self.context, self.rank, self.world = batch_size, context, rank, world

    def __iter__(self):
        tokens = read_split(self.corpus, "train")
        for step in range(self.start, self.stop):
            x, y = batch_at(tokens, self.seed, step, self.batch_size, self.context)
            yield x[self.rank :: self.world], y[self.rank :: self.world]


class ValBatches(Dataset):
    def __init__(self, corpus: Corpus, n_batches: int, batch_size: int, context: int) -> None:
        self.corpus, self.n_batches, self.batch_size, self.context = corpus, n_batches, batch_size, context
        self._tokens: np.ndarray | None = None  # opened on first use, in whichever process reads

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._tokens is None:
            self._tokens = read_split(self.corpus, "val")
        return batch_at(self._tokens, VAL_SEED, i, self.batch_size, self.context)


class TokenDataModule(L.LightningDataModule):
    def __init__(self, corpus: Corpus, seed: int, steps: int, batch_size: int, context: int, eval_batches: int) -> None:
        super().__init__()
        self.corpus, self.seed, self.steps = corpus, seed, steps
        self.batch_size, self.context, self.eval_batches = batch_size, context, eval_batches

    def train_dataloader(self) -> DataLoader:
        # Lightning restores global_step from the checkpoint before asking for data.
        start, rank, world = 0, 0, 1
        if self.trainer is not None:
            start, rank, world = self.trainer.global_step, self.trainer.global_rank, self.trainer.world_size
        batches = TrainBatches(self.corpus, self.seed, start, self.steps, self.batch_size, self.context, rank, world)
        return DataLoader(batches, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(ValBatches(self.corpus, self.eval_batches, self.batch_size, self.context), batch_size=None)
