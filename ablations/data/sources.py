"""A corpus's bytes as a stream, in bounded memory: the files a source names, in order, read a chunk at a time.
Their concatenation is the corpus, identified by its sha256 (as when it was read whole, so ids stay), computed
while it is copied into the cache once; a source's files' sizes and mtimes find that copy again without rereading."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

CHUNK = 8 << 20  # bytes read at a time: the preparation's memory does not grow with the corpus


@dataclass(frozen=True)
class Source:
    name: str  # 'shakespeare', 'stdlib' or an absolute path
    files: tuple[Path, ...]  # concatenated in this order

    @property
    def n_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files)

    def key(self) -> str:
        """Names these files as they are now (paths, sizes, modification times): a changed file is another source."""
        listing = [(str(p), (s := p.stat()).st_size, s.st_mtime_ns) for p in self.files]
        return hashlib.sha256(json.dumps([self.name, listing]).encode()).hexdigest()

    def chunks(self) -> Iterator[bytes]:
        for path in self.files:
            yield from file_chunks(path)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def not_text(path: Path) -> str | None:
    """Why a file is not text the tokeniser should train on, or None; read a chunk at a time. UTF-16 is text, but in
    the wrong encoding: every other byte would be a zero."""
    head, size, odd_zeros, nul, utf8 = b"", 0, 0, False, True
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in file_chunks(path):
        head = head or chunk[:2]
        odd_zeros += chunk[1 - size % 2 :: 2].count(0)  # zeros at odd offsets of the whole file
        nul = nul or b"\0" in chunk
        size += len(chunk)
        try:
            utf8 and decoder.decode(chunk)
        except UnicodeDecodeError:
            utf8 = False
    if head in (b"\xff\xfe", b"\xfe\xff") or (size > 1 and odd_zeros > size // 4):
        return "UTF-16 text; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    if nul:
        return "a binary file, not text"
    try:
        utf8 and decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    return None if utf8 else "not UTF-8 text (a binary file such as an image, or text in another encoding: convert it " \
                             "with iconv -t UTF-8)"


def stdlib_source() -> Source:
    """The running Python's standard-library sources: offline and present on every machine."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if not {"site-packages", "dist-packages"} & set(p.parts))
    return Source("stdlib", tuple(files))


def path_source(path: Path, refuse: Callable[[str], Exception]) -> Source:
    """A text file, or every text file under a directory (sorted; hidden files and binaries skipped)."""
    if path.is_file():
        if why := not_text(path):  # the tokenizer reads text; a binary would train on machine code
            raise refuse(f"--data {path}: {why}")
        return Source(str(path), (path,))
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        skipped = [p for p in files if not_text(p)]
        if len(skipped) == len(files):
            found = f"only {len(skipped)} non-text file(s), e.g. {skipped[0].name}" if skipped else "no files"
            raise refuse(f"--data {path}: the directory holds {found}; give text files")
        return Source(str(path), tuple(p for p in files if p not in skipped))
    raise refuse(f"--data {path}: no such file or directory")


def copy_hashed(source: Source, folder: Path, say: Callable[[str], None] | None = None) -> tuple[str, int]:
    """Stream the source into `folder/<sha256>.u8` (its bytes are the byte tokeniser's ids); its sha256 and size.
    Written under a temporary name and renamed, so a killed copy leaves no half corpus behind."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming.{os.getpid()}.tmp"
    digest, done, total = hashlib.sha256(), 0, source.n_bytes
    try:
        with tmp.open("wb") as out:
            for chunk in source.chunks():
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if say and (total is None or total > 16 * CHUNK) and done % (16 * CHUNK) < len(chunk):
                    of = f" of {total / 1e6:,.0f}" if total is not None else " so far"
                    say(f"reading {source.name}: {done / 1e6:,.0f}{of} MB")
        final = folder / f"{digest.hexdigest()}.u8"
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), done


class FileBytes:
    """A byte range of a file, sliced as an array of bytes is but read with pread: a memmap would keep every page it
    touched resident, so a pass over a large corpus would look (and, under memory pressure, act) as large as it."""

    def __init__(self, path: str | Path, start: int = 0, stop: int | None = None) -> None:
        self.path, self.start = str(path), start
        self.stop = os.path.getsize(path) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, window: slice):
        import numpy as np

        start, stop, _ = window.indices(len(self))
        if start >= stop:
            return np.zeros(0, dtype=np.uint8)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return np.frombuffer(os.pread(fd, stop - start, self.start + start), dtype=np.uint8)
        finally:
            os.close(fd)

