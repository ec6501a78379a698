"""A split's token ids as shards: each encodes one newline-aligned piece of the split's bytes and is written whole
(temp file, then rename), so a preparation killed mid-way resumes at the first missing shard and ends with the
shards an uninterrupted one writes. A manifest, written last, lists them with their hashes; training reads them as
memmaps, one array to its batches."""

from __future__ import annotations

import bisect
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ablations.data.sources import CHUNK
from ablations.data.storage import atomic_write, write_json

PIECE_BYTES = 16 << 20  # input bytes per shard: bounds the memory of encoding one, and what a kill -9 loses
# Characters the tokeniser sees as one line at most: a longer line (minified JSON, a data blob) goes in segments of
# this length, cut at the same places wherever it is encoded. HF tokenizers' working memory grows with a line's
# length, ~300 bytes a character; a 2.9 MB line took ~0.9 GB.
MAX_LINE = 1 << 16


def pieces(view: np.ndarray, size: int | None = None) -> list[tuple[int, int]]:
    """[start, end) ranges covering `view`, each ending just past a newline (or at the end): a line is never cut,
    so encoding piece by piece gives the ids that encoding the whole split line by line gives."""
    bounds, start, n, size = [], 0, len(view), size or PIECE_BYTES
    while start < n:
        end = min(start + size, n)
        while end < n:
            newline = view[end : end + CHUNK].tobytes().find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += CHUNK
        end = min(end, n)
        bounds.append((start, end))
        start = end
    return bounds


def lines(data: bytes) -> list[str]:
    """Text lines as the tokeniser sees them, each at most MAX_LINE characters. Cut at newlines (and within a line
    at fixed offsets from its start), a piece decodes and cuts as it does inside the whole."""
    found = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    if not found or max(map(len, found)) <= MAX_LINE:
        return found
    return [line[i : i + MAX_LINE] for line in found for i in range(0, max(len(line), 1), MAX_LINE)]


def text_lines(view: np.ndarray) -> Iterator[str]:
    """Every line of a split, read a piece at a time (what a BPE trains on)."""
    for start, end in pieces(view, CHUNK):
        yield from lines(view[start:end].tobytes())


def dtype_for(vocab: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab <= 1 << 16 else np.uint32)


def write_shards(view: np.ndarray, folder: Path, encode: Callable[[list[str]], Sequence[int]], vocab: int,
                 say: Callable[[str], None] | None = None, what: str = "") -> dict:
    """Encode `view` (a split's bytes) into shards under `folder` and write their manifest; shards already there (from
    a killed preparation) are kept. Returns the manifest."""
    dtype, bounds = dtype_for(vocab), pieces(view)
    suffix = ".u16" if dtype == np.uint16 else ".u32"
    entries, began, done_bytes = [], time.monotonic(), 0
    for k, (start, end) in enumerate(bounds):
        path = folder / f"{start:013d}-{end:013d}{suffix}"  # its byte range: a shard is never reused for another piece
        if not path.exists():
            ids = np.asarray(encode(lines(view[start:end].tobytes())), dtype=np.int64)
            if ids.size and ids.max() >= vocab:
                raise ValueError(f"token id {int(ids.max())} does not fit a vocabulary of {vocab}")
            atomic_write(path, ids.astype(dtype).tobytes())
            done_bytes += end - start
            if say and len(bounds) > 1:
                rate = done_bytes / max(time.monotonic() - began, 1e-9)
                left = sum(e - s for s, e in bounds[k + 1 :]) / rate
                say(f"tokenising {what}: shard {k + 1}/{len(bounds)}, {rate / 1e6:.1f} MB/s, about {left:.0f} s left")
        data = path.read_bytes()
        entries.append({"file": path.name, "bytes": end - start, "tokens": len(data) // dtype.itemsize,
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"dtype": dtype.name, "bytes": len(view), "tokens": sum(e["tokens"] for e in entries), "shards": entries}
    write_json(folder / "manifest.json", manifest)
    return manifest


class Shards:
    """Shards read as one array of token ids: its length, and slices across shard boundaries (what batches take)."""

    def __init__(self, parts: list[np.ndarray]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts]).tolist()

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, window: slice) -> np.ndarray:
        start, stop, _ = window.indices(len(self))
        first = bisect.bisect_right(self.offsets, start) - 1
        out = []
        while start < stop:
            part, base = self.parts[first], self.offsets[first]
            out.append(part[start - base : min(stop, base + len(part)) - base])
            start, first = base + len(part), first + 1
        if not out:
            return self.parts[0][:0]
        return np.concatenate(out) if len(out) > 1 else out[0]


def read_shards(folder: Path) -> np.ndarray | Shards:
    manifest = json.loads((folder / "manifest.json").read_text())
    parts = [np.memmap(folder / e["file"], dtype=manifest["dtype"], mode="r") for e in manifest["shards"] if e["tokens"]]
    return parts[0] if len(parts) == 1 else Shards(parts or [np.empty(0, dtype=manifest["dtype"])])


def parts(tokens: np.ndarray | Shards) -> list[np.ndarray]:
    """The memmaps behind a split, to count over without loading it whole."""
    return tokens.parts if isinstance(tokens, Shards) else [tokens]


def summed(ids, per_id: np.ndarray, step: int = 1 << 23):
    """The sum of `per_id` over a split's ids (the bytes they spell, say), a slice at a time: bounded memory."""
    return sum(per_id[part[i : i + step]].sum() for part in parts(ids) for i in range(0, len(part), step))
