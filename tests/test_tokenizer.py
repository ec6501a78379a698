"""Tokenisation as a corpus option (ablations/data/tokenizer.py, ablations/data/corpus.py) against its definitions."""

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from ablations.catalogue import get_ablation
from ablations.data.corpus import load_corpus, read_split, read_tokens, split, tokens_per_byte
from ablations.data.tokenizer import bpe_size, cached
from ablations.declare.metrics import RunRows, summary_values
from ablations.declare.presets import get_preset
from models import ModelConfig, training_flops_per_token


def _text_corpus(tmp_path, val_tail: str):
    lines = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(900))
    path = tmp_path / f"text-{val_tail.split()[0]}.txt"
    path.write_text(lines + (val_tail * len(lines))[: len(lines) // 9])  # the 90% cut falls inside `lines`
    return load_corpus(str(path), context=16)


def test_bpe_sizes_parse_and_anything_else_is_refused():
    assert bpe_size("bytes") is None and bpe_size("bpe:512") == 512
    for bad in ("bpe:256", "bpe:70000", "bpe:x", "wordpiece", "bpe512"):
        with pytest.raises(ValueError, match="use bytes or bpe:N"):
            bpe_size(bad)


def test_bpe_splits_decode_to_the_same_bytes_and_count_tokens_per_byte(tmp_path):
    corpus = _text_corpus(tmp_path, "zebra quagga okapi\n").tokenized("bpe:300")
    raw = read_tokens(corpus).tobytes()
    tokenizer = Tokenizer.from_file(str(cached(Path(corpus.tokens_path).parent, corpus.sha256, 300, ".json")))
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


def test_losses_are_reported_per_byte():
    rows = [{"split": "train", "step": s, "loss": 2.0, "log_z": 0.0, "tokens_per_s": 1.0, "step_time_s": 1.0}
            for s in range(1, 11)] + [{"split": "val", "step": 10, "loss": 3.0, "max_attn_logit": [1.0]}]
    values = summary_values(RunRows.of(rows, 10, False, {"train": 0.5, "val": 0.25}), ModelConfig(),
                            {"peak_memory_bytes": 0, "mfu": None, "val_loss_at_2x_context": None,
                             "val_loss_at_4x_context": None, "val_loss_past_context_at_2x": None,
                             "val_loss_past_context_at_4x": None})
    assert values["final_val_loss"] == 3.0 * 0.25 and values["best_val_loss"] == 3.0 * 0.25
    assert values["final_train_loss"] == 2.0 * 0.5 and values["end_train_loss"] == 2.0 * 0.5


def test_vocabulary_variants_train_at_the_bytes_models_compute():
    ablation, tiny = get_ablation("vocab_size"), get_preset("tiny")
    budget = training_flops_per_token(ablation.model_config("bytes", tiny)) * tiny.train.steps
    for variant in ablation.variants:
        config, train = ablation.model_config(variant, tiny), ablation.train_config(variant, tiny)
        assert config.vocab_size == (bpe_size(ablation.tokenizer(variant)) or 256)
        per_step = training_flops_per_token(config)
        assert abs(per_step * train.steps - budget) <= per_step * tiny.train.eval_every / 2  # to the nearest interval
