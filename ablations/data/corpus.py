"""Finding a text corpus, fetching Tiny Shakespeare once, and caching its tokens (bytes, or a BPE of them) as memmaps."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ablations.data.dataset_source import DatasetSource, dataset_source, is_dataset
from ablations.data.shards import parts, summed
from ablations.data.sources import FileBytes, Source, copy_hashed, path_source, stdlib_source
from ablations.data.storage import atomic_write, write_json
from ablations.data.tokenizer import BYTES, NotExact, cached, prepare, read_ids, token_lengths

SHAKESPEARE_FILE = "tinyshakespeare.txt"
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
VAL_FRACTION = 0.1  # the last tenth of the corpus; deterministic, so every run scores the same bytes
ALTERNATIVES = ("use --data stdlib (offline, always present), --data PATH (a text file or a directory of them) or "
                "--data hf:NAME|hf:PATH (a Hugging Face dataset, or local parquet/jsonl/arrow files)")


class CorpusError(ValueError):
    """The corpus asked for cannot be found, fetched or used."""


@dataclass(frozen=True)
class Corpus:
    name: str  # 'shakespeare', 'stdlib' or the absolute path given
    sha256: str  # of the bytes tokenised: two runs are comparable only when this matches
    tokens_path: str  # uint8 memmap of the corpus's bytes, shared by every run on this corpus
    n_tokens: int  # bytes
    tokenizer: str = BYTES  # or bpe:N (ablations/data/tokenizer.py)
    tokenizer_sha256: str = ""  # of the trained BPE vocabulary: part of a BPE run's identity

    @property
    def label(self) -> str:
        """The bytes' name: runs on one corpus compare, whatever their tokeniser (the vocab_size ablation)."""
        return f"{Path(self.name).name}@{self.sha256[:8]}"

    @property
    def identity(self) -> str:
        """What a run id hashes: the bytes, plus the vocabulary when it is not the bytes themselves."""
        return self.sha256 if self.tokenizer == BYTES else f"{self.sha256}/{self.tokenizer}@{self.tokenizer_sha256[:12]}"

    def tokenized(self, tokenizer: str, say: Callable[[str], None] | None = None) -> Corpus:
        """This corpus under `tokenizer`: the vocabulary trained on the training split (or adopted from a
        tokenizer.json) and both splits encoded, once, into the cache."""
        if tokenizer == BYTES:
            return dataclasses.replace(self, tokenizer=BYTES, tokenizer_sha256="")
        cut = int(self.n_tokens * (1 - VAL_FRACTION))  # as `split` cuts
        splits = {"train": FileBytes(self.tokens_path, 0, cut), "val": FileBytes(self.tokens_path, cut, self.n_tokens)}
        try:
            digest = prepare(splits, tokenizer,
                             Path(self.tokens_path).parent, self.sha256, say)
        except NotExact as error:
            raise CorpusError(str(error)) from None
        return dataclasses.replace(self, tokenizer=tokenizer, tokenizer_sha256=digest)


def cache_dir() -> Path:
    if "ABLATE_CACHE" in os.environ:
        return Path(os.environ["ABLATE_CACHE"]).resolve()  # jobs may start in another directory
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ablate"


def find_shakespeare() -> Path | None:
    """A local copy: $ABLATE_DATA_DIR first, then the user cache."""
    places = [Path(os.environ["ABLATE_DATA_DIR"])] if "ABLATE_DATA_DIR" in os.environ else []
    for place in places + [cache_dir()]:
        if (place / SHAKESPEARE_FILE).is_file():
            return place / SHAKESPEARE_FILE
    return None


def _shakespeare_file() -> Path:
    """A local copy, else one downloaded (sha256-checked) into the cache."""
    local = find_shakespeare()
    if local is not None:
        return local
    if os.environ.get("ABLATE_OFFLINE") == "1":
        raise CorpusError(f"Tiny Shakespeare is not in $ABLATE_DATA_DIR or {cache_dir()}, and ABLATE_OFFLINE=1; {ALTERNATIVES}")
    try:
        with urllib.request.urlopen(SHAKESPEARE_URL, timeout=30) as response:
            data = response.read()
    except OSError as error:
        raise CorpusError(
            f"Tiny Shakespeare is not in $ABLATE_DATA_DIR or {cache_dir()} and downloading it failed ({error}); {ALTERNATIVES}"
        ) from None
    if hashlib.sha256(data).hexdigest() != SHAKESPEARE_SHA256:
        raise CorpusError(f"the download from {SHAKESPEARE_URL} failed its sha256 check; {ALTERNATIVES}")
    atomic_write(cache_dir() / SHAKESPEARE_FILE, data)
    return cache_dir() / SHAKESPEARE_FILE


def _source(name: str) -> Source | DatasetSource:
    if is_dataset(name):
        return dataset_source(name, CorpusError)
    if name == "shakespeare":
        return Source("shakespeare", (_shakespeare_file(),))
    if name == "stdlib":
        return stdlib_source()
    return path_source(Path(name).expanduser().resolve(), lambda why: CorpusError(f"{why}; {ALTERNATIVES}"))


def _cached_copy(source: Source, say: Callable[[str], None] | None) -> tuple[str, int]:
    """The source's sha256 and size, copying it into the cache the first time (a pass over its bytes); later, its
    files' sizes and mtimes find the copy without reading them again."""
    index = cache_dir() / "sources" / f"{source.key()}.json"
    if index.exists():
        known = json.loads(index.read_text())
        copy = cache_dir() / "tokens" / f"{known['sha256']}.u8"
        if copy.exists() and copy.stat().st_size == known["n_bytes"]:
            return known["sha256"], known["n_bytes"]
    try:
        digest, size = copy_hashed(source, cache_dir() / "tokens", say)
    except ValueError as error:  # a dataset row that is not text, found while streaming: nothing is kept
        raise CorpusError(str(error)) from None
    write_json(index, {"name": source.name, "sha256": digest, "n_bytes": size})
    return digest, size


def default_corpus_name() -> str:
    """What `--data` defaults to without touching the network: a local Tiny Shakespeare, else stdlib."""
    return "shakespeare" if find_shakespeare() is not None else "stdlib"


def default_corpus(context: int) -> tuple[Corpus, str]:
    """The lecture's corpus, Tiny Shakespeare (a local copy, else downloaded once, sha256-checked and cached);
    offline, the stdlib sources, with a one-line notice saying how to get the real one."""
    try:
        return load_corpus("shakespeare", context), ""
    except CorpusError as error:
        notice = (f"notice: {str(error).split(';')[0]}; training on the Python stdlib sources instead. For Tiny "
                  f"Shakespeare: --data PATH, or $ABLATE_DATA_DIR naming the folder that holds {SHAKESPEARE_FILE}")
        return load_corpus("stdlib", context), notice


def load_corpus(name: str, context: int, say: Callable[[str], None] | None = None) -> Corpus:
    """The corpus named `shakespeare`, `stdlib` or a path, copied into the cache once (streamed: memory stays bounded
    whatever its size) and identified by the sha256 of its bytes."""
    source = _source(name)
    digest, size = _cached_copy(source, say)  # a dataset's size is known once its rows are read
    _check_size(source.name, size, context)
    if name == "shakespeare" and digest != SHAKESPEARE_SHA256:
        raise CorpusError(f"{source.files[0]} is not Tiny Shakespeare (sha256 mismatch); delete it or {ALTERNATIVES}")
    return Corpus(name=source.name, sha256=digest, tokens_path=str(cache_dir() / "tokens" / f"{digest}.u8"), n_tokens=size)


def _check_size(name: str, size: int, context: int) -> None:
    if size - int(size * (1 - VAL_FRACTION)) < context + 1:  # the val split holds one window
        minimum = math.ceil((context + 1) / VAL_FRACTION) + 1
        raise CorpusError(f"corpus {name} has {size} bytes; context {context} needs at least {minimum}")


def split(tokens, which: str):
    """The first 90% trains, the last 10% validates."""
    cut = int(len(tokens) * (1 - VAL_FRACTION))
    return tokens[:cut] if which == "train" else tokens[cut:]


def read_tokens(corpus: Corpus) -> np.ndarray:
    """The corpus's bytes."""
    return np.memmap(corpus.tokens_path, dtype=np.uint8, mode="r")


def read_split(corpus: Corpus, which: str):
    """The token ids of one split under the corpus's tokeniser: a memmap, or shards read as one array."""
    if corpus.tokenizer == BYTES:
        return split(read_tokens(corpus), which)
    return read_ids(Path(corpus.tokens_path).parent, corpus.sha256, corpus.tokenizer, which)


def token_bytes(corpus: Corpus) -> np.ndarray:
    """Bytes per token id under the corpus's tokeniser: all ones for bytes."""
    if corpus.tokenizer == BYTES:
        return np.ones(256, dtype=np.int64)
    return token_lengths(cached(Path(corpus.tokens_path).parent, corpus.sha256, corpus.tokenizer, ".json"))


def tokens_per_byte(corpus: Corpus, which: str) -> float:
    """A whole split's tokens per byte: 1 for bytes, about 1/3 for a BPE. Converts a loss over the whole split (or
    over many windows of it, as training losses are) to nats per byte; a few sampled windows have their own ratio
    (`batches.val_tokens_per_byte`)."""
    return len(read_split(corpus, which)) / len(split(read_tokens(corpus), which))


def training_passes(corpus: Corpus, steps: int, batch_size: int, context: int) -> float:
    """How many times a run's batches read its training split (tokens seen over the split's tokens). Above 1 the
    run repeats its corpus: a different experiment from single-pass pre-training, recorded and shown as such."""
    return steps * batch_size * context / len(read_split(corpus, "train"))


def unigram_val_loss(corpus: Corpus, vocab_size: int = 256) -> float:
    """Nats per byte on the validation split of a unigram model over tokens fitted on the training split
    (add-one smoothed): the loss of a model that learned token frequencies and nothing of context. A run that
    ends near it did not train."""
    counts = sum(np.bincount(part, minlength=vocab_size) for part in parts(read_split(corpus, "train"))) + 1.0
    log_p = np.log(counts / counts.sum())
    val = read_split(corpus, "val")
    return float(-summed(val, log_p)) / len(val) * tokens_per_byte(corpus, "val")
