"""Token ids as resumable shards (ablations/data/shards.py, ablations/data/tokenizer.py): piece by piece they are
the ids the whole text gives, a killed preparation resumes to the same shards, and reading them is one array."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from ablations.data import shards as shards_mod
from ablations.data.corpus import CorpusError, load_corpus, read_split, read_tokens, split, token_bytes
from ablations.data.shards import Shards, pieces, read_shards, write_shards
from ablations.data.tokenizer import _train, cached


def _text(n_lines: int) -> bytes:
    rng = np.random.default_rng(1)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "naïve", "café", "\r", "\t"]
    return "".join(" ".join(rng.choice(words, size=rng.integers(1, 12))) + "\n" for _ in range(n_lines)).encode()


def test_pieces_end_at_newlines_and_cover_the_split():
    data = np.frombuffer(_text(3000), dtype=np.uint8)
    bounds = pieces(data, size=1000)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(data) and len(bounds) > 10
    assert all(a == b for (_, a), (b, _) in zip(bounds, bounds[1:]))
    assert all(data[end - 1] == ord("\n") for _, end in bounds[:-1])


def test_a_bpe_trained_and_encoded_piece_by_piece_is_the_one_the_whole_text_gives(monkeypatch):
    """Reference: training on the whole text's lines and encoding them at once (as before shards existed)."""
    text = _text(4000)
    view = np.frombuffer(text, dtype=np.uint8)
    whole = Tokenizer(models.BPE())
    whole.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    from tokenizers import decoders
    whole.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    whole.train_from_iterator(text.decode().splitlines(keepends=True), trainer=trainer)
    monkeypatch.setattr(shards_mod, "CHUNK", 997)  # training reads many small pieces
    assert _train(view, 400).to_str() == whole.to_str()
    reference = [i for e in whole.encode_batch(text.decode().splitlines(keepends=True)) for i in e.ids]
    assert [i for start, end in pieces(view, 1500) for e in whole.encode_batch(shards_mod.lines(view[start:end].tobytes()))
            for i in e.ids] == reference


def test_a_line_longer_than_the_limit_is_seen_in_segments_cut_where_the_whole_text_cuts_it(monkeypatch):
    monkeypatch.setattr(shards_mod, "MAX_LINE", 50)
    long = "".join(f"{i} " for i in range(60)) + "\n"  # 171 characters: segments of 50, 50, 50, 21
    text = ("short line\n" + long + "another\n" + long).encode()
    seen = shards_mod.lines(text)
    assert "".join(seen) == text.decode() and max(map(len, seen)) == 50
    assert seen[1:5] == [long[0:50], long[50:100], long[100:150], long[150:]]
    view = np.frombuffer(text, dtype=np.uint8)
    by_piece = [line for start, end in pieces(view, 30) for line in shards_mod.lines(view[start:end].tobytes())]
    assert by_piece == seen  # pieces end at newlines, so a segment never depends on where a piece starts


def test_encoding_in_batches_of_a_character_budget_gives_the_ids_of_one_batch():
    from ablations.data.tokenizer import _encode

    encoder = Tokenizer(models.BPE())
    encoder.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    encoder.train_from_iterator(_text(500).decode().splitlines(keepends=True), trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    lines = _text(2000).decode().splitlines(keepends=True)
    reference = [i for e in encoder.encode_batch(lines) for i in e.ids]
    for budget in (1, 97, 5000, 10**9):
        assert _encode(encoder, lines, budget).tolist() == reference


def test_shards_read_as_one_array(tmp_path):
    parts = [np.arange(a, b, dtype=np.uint32) for a, b in ((0, 5), (5, 6), (6, 40), (40, 41))]
    whole, joined = Shards(parts), np.concatenate(parts)
    assert len(whole) == 41
    for start in range(42):
        for stop in (start, start + 1, start + 7, 41):
            np.testing.assert_array_equal(whole[start:stop], joined[start:stop])


def test_ids_past_65536_are_stored_as_uint32(tmp_path):
    view = np.frombuffer(b"a\nbb\nccc\n" * 50, dtype=np.uint8)
    manifest = write_shards(view, tmp_path, lambda lines: [70_000 + len(line) for line in lines], vocab=80_000)
    assert manifest["dtype"] == "uint32"
    assert list(read_shards(tmp_path)[:3]) == [70_002, 70_003, 70_004]
    with pytest.raises(ValueError, match="does not fit a vocabulary of 66000"):
        write_shards(view, tmp_path / "small", lambda lines: [70_000] * len(lines), vocab=66_000)


PREPARE = """
import sys, time
from ablations.data import shards
from ablations.data.corpus import load_corpus
shards.PIECE_BYTES = 20_000
if sys.argv[2] == "slow":  # time for the test to kill it between two shards
    write = shards.atomic_write
    shards.atomic_write = lambda *a: (write(*a), time.sleep(0.3))
load_corpus(sys.argv[1], context=16).tokenized("bpe:300")
"""


def _prepare(corpus: Path, cache: Path, speed: str) -> subprocess.Popen:
    env = {**os.environ, "ABLATE_CACHE": str(cache), "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", PREPARE, str(corpus), speed], env=env)


def _shards(cache: Path) -> dict[str, bytes]:
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in sorted(cache.rglob("*.d/*"))}


def test_a_preparation_killed_between_shards_resumes_to_the_shards_of_an_uninterrupted_one(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(_text(30_000))
    killed = _prepare(corpus, tmp_path / "killed", "slow")
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "killed").rglob("*.train.d/*.u16"))) < 3:
        assert killed.poll() is None and time.monotonic() < deadline, "the preparation ended before it could be killed"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not list((tmp_path / "killed").rglob("manifest.json"))  # a killed preparation is not a finished one
    assert _prepare(corpus, tmp_path / "killed", "fast").wait() == 0
    assert _prepare(corpus, tmp_path / "whole", "fast").wait() == 0
    resumed, whole = _shards(tmp_path / "killed"), _shards(tmp_path / "whole")
    assert resumed == whole and len([name for name in whole if name.endswith(".u16")]) > 10
    manifest = json.loads(next(v for k, v in whole.items() if k.endswith("train.d/manifest.json")))
    assert manifest["bytes"] == int(len(_text(30_000)) * 0.9)


def _byte_level_tokenizer(tmp_path: Path, text: str) -> Path:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def test_a_pretrained_byte_level_tokenizer_json_encodes_each_split_exactly(tmp_path):
    (tmp_path / "text.txt").write_bytes(_text(3000))
    pretrained = _byte_level_tokenizer(tmp_path, "a different text to learn merges from, café\n" * 50)
    corpus = load_corpus(str(tmp_path / "text.txt"), context=16).tokenized(str(pretrained))
    raw = read_tokens(corpus).tobytes()
    reference = Tokenizer.from_file(str(pretrained))
    for which in ("train", "val"):
        ids = read_split(corpus, which)
        expected = [i for e in reference.encode_batch(split(raw, which).decode().splitlines(keepends=True)) for i in e.ids]
        assert list(ids) == expected
        assert token_bytes(corpus)[np.asarray(ids)].sum() == len(split(raw, which))  # exact bytes per token
    assert cached(Path(corpus.tokens_path).parent, corpus.sha256, str(pretrained), ".json").exists()
    assert corpus.identity.startswith(f"{corpus.sha256}/{pretrained}@")


def test_tokenizers_that_cannot_score_exact_bytes_are_refused(tmp_path):
    (tmp_path / "text.txt").write_bytes(_text(3000))
    corpus = load_corpus(str(tmp_path / "text.txt"), context=16)
    pieces_ = Tokenizer(models.WordLevel({"\u2581the": 0, "[UNK]": 1}, unk_token="[UNK]"))  # SentencePiece's spelling
    pieces_.save(str(tmp_path / "pieces.json"))
    with pytest.raises(CorpusError, match="not spelled in byte-level characters"):
        corpus.tokenized(str(tmp_path / "pieces.json"))
    words = Tokenizer(models.WordLevel({"the": 0, "[UNK]": 1}, unk_token="[UNK]"))  # ASCII, but drops what it lacks
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    words.save(str(tmp_path / "words.json"))
    with pytest.raises(CorpusError, match="tokens spell .* bytes, not its .* adds, drops or replaces"):
        corpus.tokenized(str(tmp_path / "words.json"))
    (tmp_path / "junk.json").write_text('{"not": "a tokenizer"}')
    with pytest.raises(ValueError, match="is not a tokenizer.json"):
        corpus.tokenized(str(tmp_path / "junk.json"))
    prefixed = json.loads(_byte_level_tokenizer(tmp_path, "some text\n" * 20).read_text())
    prefixed["pre_tokenizer"]["add_prefix_space"] = True  # adds a space the corpus does not hold
    (tmp_path / "prefixed.json").write_text(json.dumps(prefixed))
    with pytest.raises(CorpusError, match="tokens spell .* bytes, not its"):
        corpus.tokenized(str(tmp_path / "prefixed.json"))


def test_a_bpe_prepared_before_shards_is_read_from_its_single_file(tmp_path):
    """Caches from before shards hold one .u16 file per split, the same ids: runs on them keep working."""
    (tmp_path / "text.txt").write_bytes(_text(3000))
    corpus = load_corpus(str(tmp_path / "text.txt"), context=16).tokenized("bpe:300")
    folder, ids = Path(corpus.tokens_path).parent, np.asarray(read_split(corpus, "val"))
    cached(folder, corpus.sha256, "bpe:300", ".val.u16").write_bytes(ids.astype(np.uint16).tobytes())
    for shard in cached(folder, corpus.sha256, "bpe:300", ".val.d").iterdir():
        shard.unlink()
    np.testing.assert_array_equal(read_split(corpus.tokenized("bpe:300"), "val"), ids)
