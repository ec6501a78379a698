"""Tokenisation as a corpus option (ablations/data/tokenizer.py, ablations/data/corpus.py) against its definitions."""

import math
import random
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from conftest import make_spec
from tokenizers import Tokenizer

from ablations.catalogue import get_ablation
from ablations.data.batches import VAL_SEED, batch_at, val_tokens_per_byte
from ablations.data.corpus import load_corpus, read_split, read_tokens, split, token_bytes, tokens_per_byte
from ablations.data.tokenizer import bpe_size, cached
from ablations.declare.metrics import RunRows, summary_values
from ablations.declare.presets import get_preset
from ablations.runs.resolve import model_config, train_config
from ablations.training.train import train
from models import ModelConfig, training_flops_per_token


def _text_corpus(tmp_path, val_tail: str):
    lines = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(900))
    path = tmp_path / f"text-{val_tail.split()[0]}.txt"
    path.write_text(lines + (val_tail * len(lines))[: len(lines) // 9])  # the 90% cut falls inside `lines`
    return load_corpus(str(path), context=16)


def test_bpe_sizes_parse_and_anything_else_is_refused():
    assert bpe_size("bytes") is None and bpe_size("bpe:512") == 512
    for bad in ("bpe:256", "bpe:300000", "bpe:x", "wordpiece", "bpe512"):
        with pytest.raises(ValueError, match="use bytes, bpe:N"):
            bpe_size(bad)


def test_bpe_splits_decode_to_the_same_bytes_and_count_tokens_per_byte(tmp_path):
    corpus = _text_corpus(tmp_path, "zebra quagga okapi\n").tokenized("bpe:300")
    raw = read_tokens(corpus).tobytes()
    tokenizer = Tokenizer.from_file(str(cached(Path(corpus.tokens_path).parent, corpus.sha256, "bpe:300", ".json")))
    for which in ("train", "val"):
        ids = read_split(corpus, which)
        assert max(ids) < 300
        assert tokenizer.decode([int(i) for i in ids]).encode() == split(raw, which)  # lossless, split by split
        assert tokens_per_byte(corpus, which) == len(ids) / len(split(raw, which)) < 1  # merges shorten the text
    assert corpus.tokenized("bytes").identity == corpus.sha256 != corpus.identity  # bytes keep their run ids


def test_the_validation_split_never_shapes_the_vocabulary(tmp_path):
    """Two corpora that share their training split but not their validation split get the same BPE."""
    a = _text_corpus(tmp_path, "zebra quagga okapi\n")
    b = _text_corpus(tmp_path, "xylophone marimbas\n")
    raw_a, raw_b = read_tokens(a).tobytes(), read_tokens(b).tobytes()
    if split(raw_a, "train") != split(raw_b, "train"):
        pytest.fail("fixture: the training splits must agree")  # the cut is at 90% of equal lengths
    assert a.tokenized("bpe:300").tokenizer_sha256 == b.tokenized("bpe:300").tokenizer_sha256


def test_token_lengths_add_up_to_each_splits_bytes(tmp_path):
    corpus = _text_corpus(tmp_path, "zebra quagga okapi\n").tokenized("bpe:300")
    raw = read_tokens(corpus).tobytes()
    for which in ("train", "val"):
        assert token_bytes(corpus)[read_split(corpus, which)].sum() == len(split(raw, which))
    assert (token_bytes(corpus.tokenized("bytes")) == 1).all()


def test_losses_are_reported_per_byte():
    """Training losses convert with the training split's ratio; validation rows are logged per byte already."""
    rows = [{"split": "train", "step": s, "loss": 2.0, "log_z": 0.0, "tokens_per_s": 1.0, "step_time_s": 1.0}
            for s in range(1, 11)] + [{"split": "val", "step": 10, "loss": 3.0, "loss_per_token": 12.0,
                                       "max_attn_logit": [1.0]}]
    values = summary_values(RunRows.of(rows, 10, False, train_tokens_per_byte=0.5), ModelConfig(),
                            {"peak_memory_bytes": 0, "mfu": None, "val_loss_at_2x_context": None,
                             "val_loss_at_4x_context": None, "val_loss_past_context_at_2x": None,
                             "val_loss_past_context_at_4x": None, "train_passes": 1.0})
    assert values["final_val_loss"] == 3.0 and values["best_val_loss"] == 3.0
    assert values["final_train_loss"] == 2.0 * 0.5 and values["end_train_loss"] == 2.0 * 0.5


def _mixed_corpus(tmp_path):
    """Training text of a few repeated phrases; validation text alternating those phrases (few tokens per byte under
    a BPE trained on them) with random letters (about one token per byte): sampled windows' ratio is not the split's."""
    phrases = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(900))
    letters = random.Random(0)
    blocks = [phrases[:300] if b % 2 else "".join(letters.choice("abcdefghijklmnopqrstuvwxyz \n") for _ in range(300))
              for b in range(len(phrases) // 9 // 300 + 1)]
    path = tmp_path / "mixed.txt"
    path.write_text(phrases + "".join(blocks)[: len(phrases) // 9])  # the 90% cut falls at the end of `phrases`
    return load_corpus(str(path), context=16).tokenized("bpe:300")


class ReferenceLosses(L.Callback):
    """After training: Σ nats / Σ bytes over the regular validation targets and the 2× windows, computed here from the
    model's per-token losses and each target's bytes as the vocabulary decodes it (the text is ASCII)."""

    def __init__(self, corpus, train_config, context):
        tokenizer = Tokenizer.from_file(str(cached(Path(corpus.tokens_path).parent, corpus.sha256, "bpe:300", ".json")))
        self.bytes_of = [len(tokenizer.decode([i]).encode()) for i in range(300)]
        self.val, self.train_config, self.context = read_split(corpus, "val"), train_config, context

    def _sums(self, model, rows, length, positions=slice(None)):
        nats, n_bytes, n_tokens = 0.0, 0, 0
        for i in range(self.train_config.eval_batches):
            x, y = batch_at(self.val, VAL_SEED, i, rows, length)
            losses = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")[:, positions]  # (B, T)
            nats += losses.double().sum().item()
            n_bytes += sum(self.bytes_of[t] for t in y[:, positions].flatten().tolist())
            n_tokens += losses.numel()
        return nats, n_bytes, n_tokens

    @torch.no_grad()
    def on_train_end(self, trainer, system):
        system.model.eval()
        batch = self.train_config.batch_size
        self.regular = self._sums(system.model, batch, self.context)
        self.at_2x = self._sums(system.model, batch // 2, 2 * self.context)
        self.past_2x = self._sums(system.model, batch // 2, 2 * self.context, slice(self.context, None))
        system.model.train()


def test_a_bpe_runs_validation_losses_are_its_total_nats_over_the_bytes_it_scored(tmp_path):
    corpus = _mixed_corpus(tmp_path)
    spec = make_spec(corpus, tmp_path, steps=10, eval_every=10, vocab_size=300, pos="rope")
    reference = ReferenceLosses(corpus, spec.train, spec.model.context)
    summary = train(spec, extra_callbacks=[reference])
    nats, n_bytes, n_tokens = reference.regular
    assert summary["final_val_loss"] == pytest.approx(nats / n_bytes, rel=1e-5)
    assert summary["val_tokens_per_byte"] == n_tokens / n_bytes == val_tokens_per_byte(corpus, 2, 4, 32)
    val_row = [r for r in spec.record.read_rows() if r["split"] == "val"][-1]
    assert val_row["loss_per_token"] == pytest.approx(nats / n_tokens, rel=1e-5)  # the per-token figure, kept
    assert val_row["bpb"] == pytest.approx(nats / n_bytes / math.log(2), rel=1e-5)
    # The old rule, nats/token × the whole split's tokens/byte, is off by more than rounding on these windows.
    assert abs(nats / n_tokens * tokens_per_byte(corpus, "val") / (nats / n_bytes) - 1) > 0.01
    for (nats, n_bytes, _), name in ((reference.at_2x, "val_loss_at_2x_context"),
                                     (reference.past_2x, "val_loss_past_context_at_2x")):
        assert summary[name] == pytest.approx(nats / n_bytes, rel=1e-5), name


def test_vocabulary_variants_train_at_the_bytes_models_compute():
    """Steps to the nearest step: training FLOPs within half a step's of the bytes model's, at every preset."""
    ablation = get_ablation("vocab_size")
    for preset in (get_preset("smoke"), get_preset("tiny"), get_preset("small")):  # smoke: 8k BPE shorter than warm-up
        budget = training_flops_per_token(model_config(ablation, "bytes", preset)) * preset.train.steps
        assert train_config(ablation, "bytes", preset).steps == preset.train.steps
        for variant in ablation.variants:
            config, train = model_config(ablation, variant, preset), train_config(ablation, variant, preset)
            assert config.vocab_size == (bpe_size(ablation.tokenizer(variant)) or 256)
            per_step = training_flops_per_token(config)  # per token: every step trains as many tokens
            assert abs(per_step * train.steps - budget) <= per_step / 2, (preset.name, variant)
