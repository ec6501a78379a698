"""Tokenisation, a corpus option: `bytes` (the ids are the bytes; no training), `bpe:N`, a byte-level BPE of N tokens
trained with Hugging Face `tokenizers` on the training split only (the validation bytes never shape the vocabulary),
or a pretrained byte-level tokenizer given as its `tokenizer.json` (GPT-2's BPE, say). Each split is encoded on its
own, a piece at a time into shards (`shards.py`), so under any tokeniser the validation split holds the same bytes.
The windows a run scores are drawn in token positions, so a BPE run scores other (and more) bytes than a bytes run:
its losses convert to nats per byte with the bytes of exactly the targets it scored, each token's from
`token_lengths`; preparation proves that the tokens spell exactly their split's bytes, or refuses."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ablations.data.shards import read_shards, text_lines, write_shards
from ablations.data.storage import atomic_write

BYTES = "bytes"
MAX_BPE = 1 << 18  # a BPE trained here; ids past 65,536 are stored as uint32


class NotExact(ValueError):
    """A tokenizer whose tokens do not spell exactly the bytes they encode: losses per byte would be approximate."""


def is_file(tokenizer: str) -> bool:
    return tokenizer.endswith(".json")


def bpe_size(tokenizer: str) -> int | None:
    """N for 'bpe:N', None for 'bytes' or a tokenizer.json; any other spelling is an error naming what is allowed."""
    if tokenizer == BYTES or is_file(tokenizer):
        return None
    kind, _, size = tokenizer.partition(":")
    if kind == "bpe" and size.isdigit() and 257 <= int(size) <= MAX_BPE:
        return int(size)
    raise ValueError(f"tokenizer {tokenizer!r}: use bytes, bpe:N with N from 257 to {MAX_BPE}, or a tokenizer.json")


HUB = "hf:"  # --tokenizer hf:NAME: a hub repository's tokenizer.json (gpt2, meta-llama/Llama-3.2-1B, ...)


def from_hub(name: str, folder: Path) -> Path:
    """The tokenizer.json of hub repository `name`, through the Hugging Face cache (downloaded once while online;
    offline, HF_HUB_OFFLINE=1, it must be cached), copied to `folder` under a name of its own; from there it is a
    tokenizer.json like any other (its bytes' hash joins the run's identity). ValueError says why it cannot."""
    from huggingface_hub import hf_hub_download

    try:
        found = Path(hf_hub_download(repo_id=name, filename="tokenizer.json"))
    except Exception as error:  # offline and not cached, no such repository, no tokenizer.json, gated: one line
        text = " ".join(str(error).split())[:160] or type(error).__name__
        raise ValueError(f"{HUB}{name}: no tokenizer.json to be had ({text}); offline it must be in the Hugging Face "
                         "cache: run once while online, or give the file's path") from None
    local = folder / f"{name.replace('/', '--')}.tokenizer.json"
    if not local.exists() or local.read_bytes() != found.read_bytes():
        atomic_write(local, found.read_bytes())
    return local


@lru_cache(maxsize=16)
def _pretrained(path: str, mtime_ns: int):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def pretrained(path: str):
    """A tokenizer.json, loaded, or ValueError saying why it cannot serve (not a tokenizer, not byte-level)."""
    file = Path(path)
    try:
        tokenizer = _pretrained(str(file), file.stat().st_mtime_ns)
    except Exception as error:  # tokenizers raises its own Exception type for a file it cannot parse
        raise ValueError(f"{path} is not a tokenizer.json ({str(error).splitlines()[0][:80]})") from None
    if why := _not_byte_level(tokenizer):
        raise NotExact(f"{path}: {why}, so the bytes each token scores are not exact; give a byte-level tokenizer "
                       "(GPT-2 style)")
    return tokenizer


def _not_byte_level(tokenizer) -> str | None:
    from tokenizers import pre_tokenizers

    if tokenizer.normalizer is not None:
        return "it normalises text before encoding it"
    alphabet, added = set(pre_tokenizers.ByteLevel.alphabet()), set(tokenizer.get_added_tokens_decoder())
    for token, i in tokenizer.get_vocab(with_added_tokens=False).items():
        if i not in added and not set(token) <= alphabet:
            return f"its tokens are not spelled in byte-level characters (e.g. {token!r})"
    return None


def vocab_size(tokenizer: str) -> int:
    if is_file(tokenizer):
        return max(pretrained(tokenizer).get_vocab(with_added_tokens=True).values()) + 1
    return bpe_size(tokenizer) or 256


def _train(view: np.ndarray, size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tokenizer.train_from_iterator(text_lines(view), trainer=trainer)  # streamed a piece at a time
    return tokenizer


def cached(folder: Path, digest: str, tokenizer: str, suffix: str) -> Path:
    """Where a corpus's tokeniser keeps its vocabulary (.json) and each split's shards (.train.d, .val.d; a BPE
    prepared before shards keeps .train.u16 and .val.u16)."""
    if is_file(tokenizer):
        name = f"tok{hashlib.sha256(Path(tokenizer).read_bytes()).hexdigest()[:16]}"
    else:
        name = f"bpe{bpe_size(tokenizer)}"
    return folder / f"{digest}-{name}{suffix}"


def token_lengths(vocab_file: Path) -> np.ndarray:
    """Bytes per token id of a byte-level vocabulary: it spells every byte as one character of its alphabet, so a
    token's length in characters is its length in bytes (an added token's is its text's UTF-8 length)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(vocab_file.read_text())
    added = {i: token.content for i, token in tokenizer.get_added_tokens_decoder().items()}
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    lengths = np.zeros(max(vocab.values()) + 1, dtype=np.int64)
    for token, i in vocab.items():
        lengths[i] = len(added[i].encode()) if i in added else len(token)
    return lengths


def read_ids(folder: Path, digest: str, tokenizer: str, which: str):
    """One split's ids: its shards, or the single file of a BPE prepared before shards."""
    legacy = cached(folder, digest, tokenizer, f".{which}.u16")
    if legacy.exists():
        return np.memmap(legacy, dtype=np.uint16, mode="r")
    return read_shards(cached(folder, digest, tokenizer, f".{which}.d"))


BATCH_CHARS = 1 << 20  # characters per call into `tokenizers`: its working memory follows the text of one call


def _batches(lines: list[str], budget: int) -> Iterator[list[str]]:
    start, size = 0, 0
    for k, line in enumerate(lines):
        size += len(line)
        if size >= budget:
            yield lines[start : k + 1]
            start, size = k + 1, 0
    if start < len(lines):
        yield lines[start:]


def _encode(encoder, lines: list[str], budget: int = BATCH_CHARS) -> np.ndarray:
    """Ids of the lines, in order, encoded (in parallel inside `tokenizers`) a batch of about `budget` characters at
    a time and kept as arrays: Encoding objects and Python ints for a whole shard would take gigabytes."""
    arrays = [np.fromiter((i for e in encoder.encode_batch_fast(batch) for i in e.ids), dtype=np.int64)
              for batch in _batches(lines, budget)]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def prepare(splits: dict[str, np.ndarray], tokenizer: str, folder: Path, digest: str,
            say: Callable[[str], None] | None = None) -> str:
    """Train (a BPE, once) or adopt (a tokenizer.json) the vocabulary, encode each split into shards (once; resumed
    after a kill), check that its tokens spell exactly its bytes; the vocabulary's sha256."""
    from tokenizers import Tokenizer

    vocab_file = cached(folder, digest, tokenizer, ".json")
    if not vocab_file.exists():
        source = pretrained(tokenizer).to_str() if is_file(tokenizer) else _train(splits["train"], bpe_size(tokenizer)).to_str()
        atomic_write(vocab_file, source.encode())
    encoder, lengths, vocab = Tokenizer.from_str(vocab_file.read_text()), token_lengths(vocab_file), vocab_size(tokenizer)
    for which, view in splits.items():
        shards = cached(folder, digest, tokenizer, f".{which}.d")
        if cached(folder, digest, tokenizer, f".{which}.u16").exists() or (shards / "manifest.json").exists():
            continue
        write_shards(view, shards, lambda lines: _encode(encoder, lines), vocab, say, f"the {which} split")
        manifest = json.loads((shards / "manifest.json").read_text())
        # Read each shard into memory and let it go: through memmaps, every page checked would stay resident.
        spelled = sum(int(lengths[np.fromfile(shards / e["file"], dtype=manifest["dtype"])].sum()) for e in manifest["shards"])
        if spelled != len(view):
            (shards / "manifest.json").unlink()
            raise NotExact(f"tokenizer {tokenizer}: the {which} split's tokens spell {spelled:,} bytes, not its "
                           f"{len(view):,} (the tokenizer adds, drops or replaces text: an unknown-token fallback, a "
                           "prefix space; or the corpus holds invalid UTF-8), so losses per byte would not be exact")
    return hashlib.sha256(vocab_file.read_bytes()).hexdigest()
