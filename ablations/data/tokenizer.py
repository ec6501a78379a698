"""Tokenisation, a corpus option: `bytes` (the ids are the bytes; no training) or `bpe:N`, a byte-level BPE of
N tokens trained with Hugging Face `tokenizers` on the training split only (the validation bytes never shape
the vocabulary), cached by corpus hash and size. Each split is encoded on its own, so under either tokeniser the
validation split holds the same bytes. The windows a run scores are drawn in token positions, so a BPE run scores
other (and more) bytes than a bytes run: its losses convert to nats per byte with the bytes of exactly the targets it
scored, each token's from `token_lengths`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ablations.data.storage import atomic_write

BYTES = "bytes"
MAX_BPE = 65_536  # ids are stored as uint16


def bpe_size(tokenizer: str) -> int | None:
    """N for 'bpe:N', None for 'bytes'; any other spelling is an error naming what is allowed."""
    if tokenizer == BYTES:
        return None
    kind, _, size = tokenizer.partition(":")
    if kind == "bpe" and size.isdigit() and 257 <= int(size) <= MAX_BPE:
        return int(size)
    raise ValueError(f"tokenizer {tokenizer!r}: use bytes or bpe:N with N from 257 to {MAX_BPE}")


def vocab_size(tokenizer: str) -> int:
    return bpe_size(tokenizer) or 256


def _train(text: str, size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
    return tokenizer


def cached(folder: Path, digest: str, size: int, suffix: str) -> Path:
    """Where a corpus's BPE of `size` tokens keeps its vocabulary (.json) and each split's ids (.train.u16, .val.u16)."""
    return folder / f"{digest}-bpe{size}{suffix}"


def token_lengths(vocab_file: Path) -> np.ndarray:
    """Bytes per token id of a cached vocabulary. Byte-level BPE spells every byte as one character of its alphabet,
    so a token's length in characters is its length in bytes."""
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_str(vocab_file.read_text()).get_vocab()
    lengths = np.zeros(max(vocab.values()) + 1, dtype=np.int64)
    for token, i in vocab.items():
        lengths[i] = len(token)
    return lengths


def encode_splits(train: bytes, val: bytes, size: int, folder: Path, digest: str) -> str:
    """Train (once) and encode both splits (once) into the cache; the vocabulary's sha256."""
    from tokenizers import Tokenizer

    vocab_file = cached(folder, digest, size, ".json")
    if not vocab_file.exists():
        atomic_write(vocab_file, _train(train.decode("utf-8", errors="replace"), size).to_str().encode())
    tokenizer = Tokenizer.from_str(vocab_file.read_text())
    for name, data in (("train", train), ("val", val)):
        path = cached(folder, digest, size, f".{name}.u16")
        if not path.exists():
            lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
            ids = [i for encoding in tokenizer.encode_batch(lines) for i in encoding.ids]
            atomic_write(path, np.asarray(ids, dtype=np.uint16).tobytes())
    return hashlib.sha256(vocab_file.read_bytes()).hexdigest()
