"""A Hugging Face dataset as a corpus: one text field of one split, read a batch of rows at a time (bounded
memory), each row's text followed by a newline; those bytes are the corpus, identified by their sha256 as a
text file's are. `hf:NAME` reads the hub through the `datasets` cache (downloaded once while online, then
offline); `hf:PATH` reads local parquet, JSON Lines or Arrow files (a file, a folder of them, or a glob). Options
follow as `:key=value`: `config`, `split` (default train) and `field` (default text). Needs the `hf` extra."""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ablations.data.sources import CHUNK

PREFIX = "hf:"
BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".arrow": "arrow"}  # suffix → datasets' loader
OPTIONS = {"config": None, "split": "train", "field": "text"}
ROWS = 1024  # rows per batch read
INSTALL = 'pip install -e ".[hf]" (the datasets library)'


@dataclass(frozen=True)
class DatasetSource:
    name: str  # as given after --data, the corpus's name in summaries
    target: str  # a hub name, or local data files' pattern
    options: dict[str, str | None]
    files: tuple[Path, ...] = ()  # local data files; empty for the hub

    @property
    def n_bytes(self) -> int | None:
        return None  # known once the rows are read

    @property
    def text_field(self) -> str:
        return self.options["field"]

    def key(self) -> str:
        """Names the rows as they are now: the hub name and options, or the local files' paths, sizes and mtimes."""
        listing = [(str(p), (s := p.stat()).st_size, s.st_mtime_ns) for p in self.files]
        return hashlib.sha256(json.dumps([self.target, self.options, listing], sort_keys=True).encode()).hexdigest()

    def chunks(self) -> Iterator[bytes]:
        rows = _open(self)
        pending: list[bytes] = []
        size = 0
        for batch in rows.iter(batch_size=ROWS):
            texts = batch[self.text_field]
            if any(not isinstance(text, str) for text in texts):
                raise ValueError(f"--data {self.name}: field {self.text_field!r} holds non-text values")
            pending.append("".join(text + "\n" for text in texts).encode())
            size += len(pending[-1])
            if size >= CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


def is_dataset(text: str) -> bool:
    return text.startswith(PREFIX)


def dataset_source(text: str, refuse: Callable[[str], Exception]) -> DatasetSource:
    """The source `--data hf:...` names, checked for what can be checked without reading its rows: the options,
    the local files, and that the text field exists."""
    target, *parts = text[len(PREFIX):].split(":")
    options = dict(OPTIONS)
    for part in parts:
        key, _, value = part.partition("=")
        if key not in OPTIONS or not value:
            raise refuse(f"--data {text}: {part!r} is not an option; give hf:NAME or hf:PATH, then any of "
                         ":config=C, :split=S (default train), :field=F (default text)")
        options[key] = value
    if not target:
        raise refuse(f"--data {text}: no dataset named; give hf:NAME (a hub dataset) or hf:PATH (parquet, jsonl, arrow)")
    files = _local_files(target, refuse, text)
    source = DatasetSource(text, target if not files else str(Path(target).expanduser().resolve()), options, files)
    _check_field(source, refuse)
    return source


def _local_files(target: str, refuse: Callable[[str], Exception], text: str) -> tuple[Path, ...]:
    """Data files a local target names (none for a hub name): a file, a folder's files or a glob's matches."""
    path = Path(target).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in BUILDERS and not p.name.startswith("."))
    elif any(c in target for c in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).suffix in BUILDERS)
    elif path.is_file():
        found = [path]
    elif target.startswith((".", "/", "~")) or path.suffix in BUILDERS:
        raise refuse(f"--data {text}: no such file or directory")
    else:
        return ()  # a hub name
    if not found or {p.suffix for p in found} - set(BUILDERS):
        raise refuse(f"--data {text}: give parquet, jsonl or arrow files ({', '.join(sorted(BUILDERS))})")
    if len({BUILDERS[p.suffix] for p in found}) > 1:
        raise refuse(f"--data {text}: the files mix formats ({', '.join(sorted({p.suffix for p in found}))}); give one")
    return tuple(p.resolve() for p in found)


def _open(source: DatasetSource):
    """The split's rows, streamed: nothing is held beyond a batch."""
    import datasets

    datasets.disable_progress_bars()
    if source.files:
        builder = BUILDERS[source.files[0].suffix]
        return datasets.load_dataset(builder, data_files=[str(p) for p in source.files], split="train", streaming=True)
    return datasets.load_dataset(source.target, source.options["config"], split=source.options["split"], streaming=True)


def _check_field(source: DatasetSource, refuse: Callable[[str], Exception]) -> None:
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise refuse(f"--data {source.name}: reading a dataset needs the datasets library: {INSTALL}") from None
    try:
        first = next(iter(_open(source)), None)
    except Exception as error:  # the hub's and the loaders' errors vary; one line says which
        raise refuse(f"--data {source.name}: {_reason(error)}") from None
    if first is None:
        raise refuse(f"--data {source.name}: the split has no rows")
    if source.text_field not in first:
        raise refuse(f"--data {source.name}: no text field {source.text_field!r}; its fields: {', '.join(first)} "
                     "(choose one with :field=NAME)")


def _reason(error: Exception) -> str:
    """One line for why a dataset could not be opened: offline and not cached, not found, or the loader's words."""
    text = " ".join(str(error).split()) or type(error).__name__
    if "offline" in text.lower() or "connect" in text.lower() or "resolve" in text.lower():
        return (f"cannot be found offline ({text[:160]}); run once while online to cache it, or give local files "
                "as hf:PATH")
    return text[:240]
