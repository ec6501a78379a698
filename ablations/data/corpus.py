"""Finding a text corpus, fetching Tiny Shakespeare once, and caching its tokens (bytes, or a BPE of them) as memmaps."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sysconfig
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ablations.data.storage import atomic_write
from ablations.data.tokenizer import BYTES, bpe_size, cached, encode_splits, token_lengths

SHAKESPEARE_FILE = "tinyshakespeare.txt"
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
VAL_FRACTION = 0.1  # the last tenth of the corpus; deterministic, so every run scores the same bytes
ALTERNATIVES = "use --data stdlib (offline, always present) or --data PATH (a text file or a directory of them)"


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

    def tokenized(self, tokenizer: str) -> Corpus:
        """This corpus under `tokenizer`: a BPE is trained on the training split and both splits encoded, once."""
        size = bpe_size(tokenizer)
        if size is None:
            return dataclasses.replace(self, tokenizer=BYTES, tokenizer_sha256="")
        data = read_tokens(self).tobytes()
        digest = encode_splits(split(data, "train"), split(data, "val"), size, Path(self.tokens_path).parent, self.sha256)
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


def _shakespeare_bytes() -> bytes:
    local = find_shakespeare()
    if local is not None:
        data = local.read_bytes()
        if hashlib.sha256(data).hexdigest() != SHAKESPEARE_SHA256:
            raise CorpusError(f"{local} is not Tiny Shakespeare (sha256 mismatch); delete it or {ALTERNATIVES}")
        return data
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
    return data


def _stdlib_bytes() -> bytes:
    """The running Python's standard-library sources: offline and present on every machine."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if not {"site-packages", "dist-packages"} & set(p.parts))
    return b"".join(p.read_bytes() for p in files)


def _not_text(data: bytes) -> str | None:
    """Why bytes are not text the byte tokeniser should train on, or None. UTF-16 is text, but in the wrong
    encoding: every other byte would be a zero."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and data[1::2].count(0) > len(data) // 4):
        return "UTF-16 text; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    return "a binary file, not text" if b"\0" in data else None


def _path_bytes(path: Path) -> bytes:
    if path.is_file():
        data = path.read_bytes()
        if why := _not_text(data):  # the tokenizer reads text; a binary would train on machine code
            raise CorpusError(f"--data {path}: {why}; {ALTERNATIVES}")
        return data
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        texts = {p: p.read_bytes() for p in files}
        skipped = [p for p, text in texts.items() if _not_text(text)]
        if len(skipped) == len(files):
            found = f"only {len(skipped)} non-text file(s), e.g. {skipped[0].name}" if skipped else "no files"
            raise CorpusError(f"--data {path}: the directory holds {found}; give text files; {ALTERNATIVES}")
        return b"".join(text for p, text in texts.items() if p not in skipped)  # skip binaries
    raise CorpusError(f"--data {path}: no such file or directory; {ALTERNATIVES}, or --data shakespeare")


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


def load_corpus(name: str, context: int) -> Corpus:
    """Read the corpus named `shakespeare`, `stdlib` or a path; tokenise it once into the cache."""
    if name == "shakespeare":
        data = _shakespeare_bytes()
    elif name == "stdlib":
        data = _stdlib_bytes()
    else:
        path = Path(name).expanduser().resolve()
        name, data = str(path), _path_bytes(path)
    if len(split(data, "val")) < context + 1:  # the smaller split must hold one window of inputs and targets
        minimum = math.ceil((context + 1) / VAL_FRACTION) + 1
        raise CorpusError(f"corpus {name} has {len(data)} bytes; context {context} needs at least {minimum}")
    digest = hashlib.sha256(data).hexdigest()
    tokens_path = cache_dir() / "tokens" / f"{digest}.u8"
    if not tokens_path.exists():
        atomic_write(tokens_path, data)  # byte-level: the token ids are the bytes themselves
    return Corpus(name=name, sha256=digest, tokens_path=str(tokens_path), n_tokens=len(data))


def split(tokens, which: str):
    """The first 90% trains, the last 10% validates."""
    cut = int(len(tokens) * (1 - VAL_FRACTION))
    return tokens[:cut] if which == "train" else tokens[cut:]


def read_tokens(corpus: Corpus) -> np.ndarray:
    """The corpus's bytes."""
    return np.memmap(corpus.tokens_path, dtype=np.uint8, mode="r")


def read_split(corpus: Corpus, which: str) -> np.ndarray:
    """The token ids of one split under the corpus's tokeniser."""
    size = bpe_size(corpus.tokenizer)
    if size is None:
        return split(read_tokens(corpus), which)
    return np.memmap(cached(Path(corpus.tokens_path).parent, corpus.sha256, size, f".{which}.u16"), dtype=np.uint16, mode="r")


def token_bytes(corpus: Corpus) -> np.ndarray:
    """Bytes per token id under the corpus's tokeniser: all ones for bytes."""
    size = bpe_size(corpus.tokenizer)
    if size is None:
        return np.ones(256, dtype=np.int64)
    return token_lengths(cached(Path(corpus.tokens_path).parent, corpus.sha256, size, ".json"))


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
    counts = np.bincount(read_split(corpus, "train"), minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[read_split(corpus, "val")].mean()) * tokens_per_byte(corpus, "val")
