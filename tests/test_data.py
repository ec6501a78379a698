import torch

from ablations.data.batches import TokenDataModule, TrainBatches, ValBatches, batch_at
from ablations.data.corpus import read_tokens, split


def test_batches_are_next_byte_windows_keyed_by_seed_and_step(corpus):
    tokens = split(read_tokens(corpus), "train")
    x, y = batch_at(tokens, seed=3, index=7, batch_size=4, context=16)
    assert x.shape == y.shape == (4, 16) and x.dtype == torch.int64
    torch.testing.assert_close(x[:, 1:], y[:, :-1])
    torch.testing.assert_close(batch_at(tokens, 3, 7, 4, 16)[0], x)  # pure function of (seed, step)
    assert not torch.equal(batch_at(tokens, 4, 7, 4, 16)[0], x)
    assert not torch.equal(batch_at(tokens, 3, 8, 4, 16)[0], x)


def test_resumed_stream_continues_the_uninterrupted_one(corpus):
    whole = list(TrainBatches(corpus, seed=1, start=0, stop=10, batch_size=2, context=8))
    resumed = list(TrainBatches(corpus, seed=1, start=6, stop=10, batch_size=2, context=8))
    assert len(resumed) == 4
    for (a, _), (b, _) in zip(whole[6:], resumed):
        torch.testing.assert_close(a, b)


def test_validation_batches_do_not_depend_on_the_run_seed(corpus):
    a = TokenDataModule(corpus, seed=0, steps=10, batch_size=2, context=8, eval_batches=3).val_dataloader()
    b = TokenDataModule(corpus, seed=9, steps=10, batch_size=2, context=8, eval_batches=3).val_dataloader()
    for (xa, _), (xb, _) in zip(a, b, strict=True):
        torch.testing.assert_close(xa, xb)
    assert len(ValBatches(corpus, 3, 2, 8)) == 3
