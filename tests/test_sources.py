"""Corpus bytes read as a stream (ablations/data/sources.py): the same identity, the same text rule and the same
bytes as reading every file whole, in memory that does not grow with the corpus."""

import hashlib
import tracemalloc

import numpy as np
import pytest

from ablations.data import corpus as corpus_mod
from ablations.data import sources
from ablations.data.corpus import load_corpus, read_tokens
from ablations.data.sources import not_text


def whole_file_rule(data: bytes) -> str | None:
    """The rule as it read a file whole (the reference the streamed one must agree with)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and data[1::2].count(0) > len(data) // 4):
        return "UTF-16 text; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    if b"\0" in data:
        return "a binary file, not text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ("not UTF-8 text (a binary file such as an image, or text in another encoding: convert it with iconv -t "
                "UTF-8)")
    return None


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_the_streamed_text_rule_is_the_whole_file_rule(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(sources, "CHUNK", chunk)  # odd chunks move the parity of every later offset
    samples = {"ascii": b"hello world\n" * 5, "utf16-bom": "hello\n".encode("utf-16"),
               "utf16-le": "hello there\n".encode("utf-16-le"), "utf16-be": "hello there\n".encode("utf-16-be"),
               "binary": b"ELF\0\1\2text" * 3, "utf8": "naïve café\n".encode(), "one": b"x",
               "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\r", "png-header": b"\x89PNG\r\n\x1a\nIHDR",
               "latin-1": "naïve café\n".encode("latin-1"), "cut-utf8": "café".encode()[:-1]}
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        assert not_text(tmp_path / name) == whole_file_rule(data), name


def test_a_directory_streams_to_the_bytes_and_sha256_of_its_text_files_joined(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "CHUNK", 1000)  # many chunks per file
    rng = np.random.default_rng(0)
    texts = {f"d{i}/f{i}.txt": bytes(rng.integers(32, 127, size=2500 + 777 * i, dtype=np.uint8)) for i in range(4)}
    for name, data in texts.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "d1" / "image.png").write_bytes(b"\x89PNG\0\0" * 50)
    joined = b"".join(texts[name] for name in sorted(texts))
    corpus = load_corpus(str(tmp_path), context=8)
    assert corpus.sha256 == hashlib.sha256(joined).hexdigest() and corpus.n_tokens == len(joined)
    assert read_tokens(corpus).tobytes() == joined


def test_a_second_load_finds_the_copy_without_reading_and_an_edit_makes_a_new_corpus(tmp_path, monkeypatch):
    path = tmp_path / "text.txt"
    path.write_bytes(b"the first version of the text\n" * 200)
    first = load_corpus(str(path), context=8)

    def no_read(*_, **__):
        raise AssertionError("the source was read again")

    monkeypatch.setattr(corpus_mod, "copy_hashed", no_read)
    assert load_corpus(str(path), context=8) == first
    monkeypatch.undo()
    path.write_bytes(b"the other version of the text\n" * 200)
    second = load_corpus(str(path), context=8)
    assert second.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != first.sha256


def test_loading_a_large_file_holds_a_chunk_not_the_file(tmp_path):
    path = tmp_path / "big.txt"
    line = b"a line of text that repeats, long enough to make forty megabytes in all\n"
    path.write_bytes(line * (40_000_000 // len(line)))
    tracemalloc.start()
    corpus = load_corpus(str(path), context=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert corpus.n_tokens == path.stat().st_size
    assert peak < 3 * sources.CHUNK < path.stat().st_size / 1.5  # a chunk or two in flight, never the file


def test_file_bytes_slice_as_the_file_does(tmp_path):
    from ablations.data.sources import FileBytes

    data = bytes(range(256)) * 40
    (tmp_path / "f").write_bytes(data)
    view, reference = FileBytes(tmp_path / "f", 100, 9000), np.frombuffer(data, dtype=np.uint8)[100:9000]
    assert len(view) == len(reference)
    for window in (slice(0, 10), slice(8890, 9999), slice(5, 5), slice(None), slice(-20, None)):
        np.testing.assert_array_equal(view[window], reference[window])
