import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest
from conftest import SHAKESPEARE, needs_shakespeare

from ablations.data import corpus as corpus_mod
from ablations.data.corpus import VAL_FRACTION, CorpusError, default_corpus, default_corpus_name, load_corpus, read_tokens, split


@needs_shakespeare
def test_shakespeare_is_found_in_data_dir_and_tokenised_as_bytes():
    corpus = load_corpus("shakespeare", context=64)
    assert (corpus.name, corpus.n_tokens) == ("shakespeare", 1_115_394)
    assert corpus.sha256 == corpus_mod.SHAKESPEARE_SHA256
    np.testing.assert_array_equal(read_tokens(corpus), np.frombuffer(SHAKESPEARE.read_bytes(), dtype=np.uint8))
    assert default_corpus_name() == "shakespeare"


def test_without_a_local_copy_the_default_is_stdlib(monkeypatch):
    monkeypatch.delenv("ABLATE_DATA_DIR", raising=False)
    assert default_corpus_name() == "stdlib"
    corpus = load_corpus("stdlib", context=64)
    assert corpus.n_tokens > 1_000_000  # the stdlib sources are megabytes of text on any Python
    assert load_corpus("stdlib", context=64) == corpus  # deterministic: same bytes, same cached memmap


def test_path_corpus_file_and_directory(tmp_path):
    (tmp_path / "a.txt").write_text("hello world " * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("second file " * 100)
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" * 100)
    from_dir = load_corpus(str(tmp_path), context=8)
    assert bytes(read_tokens(from_dir)) == ("hello world " * 100 + "second file " * 100).encode()
    assert load_corpus(str(tmp_path / "a.txt"), context=8).n_tokens == 1200


def test_missing_or_empty_corpus_errors_name_the_alternatives(tmp_path):
    with pytest.raises(CorpusError, match="no such file or directory; use --data stdlib"):
        load_corpus(str(tmp_path / "nope.txt"), context=8)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError, match="has 0 bytes"):
        load_corpus(str(tmp_path / "empty.txt"), context=8)


def _serve(directory):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@needs_shakespeare
def test_download_is_checked_and_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("ABLATE_DATA_DIR", raising=False)
    monkeypatch.delenv("ABLATE_OFFLINE", raising=False)
    monkeypatch.setenv("ABLATE_CACHE", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    (served / "good.txt").write_bytes(SHAKESPEARE.read_bytes())
    (served / "bad.txt").write_bytes(b"not shakespeare " * 1000)
    server = _serve(served)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.setattr(corpus_mod, "SHAKESPEARE_URL", f"{base}/bad.txt")
        with pytest.raises(CorpusError, match="failed its sha256 check"):
            load_corpus("shakespeare", context=64)
        assert not (tmp_path / "cache" / "tinyshakespeare.txt").exists()
        monkeypatch.setattr(corpus_mod, "SHAKESPEARE_URL", f"{base}/good.txt")
        assert load_corpus("shakespeare", context=64).sha256 == corpus_mod.SHAKESPEARE_SHA256
        assert (
            hashlib.sha256((tmp_path / "cache" / "tinyshakespeare.txt").read_bytes()).hexdigest() == corpus_mod.SHAKESPEARE_SHA256
        )
    finally:
        server.shutdown()
    assert default_corpus_name() == "shakespeare"  # the cached copy now counts as local


def test_no_copy_and_no_network_names_the_alternatives(tmp_path, monkeypatch):
    monkeypatch.delenv("ABLATE_DATA_DIR", raising=False)
    monkeypatch.delenv("ABLATE_OFFLINE", raising=False)
    monkeypatch.setenv("ABLATE_CACHE", str(tmp_path))
    server = _serve(tmp_path)
    port = server.server_port
    server.server_close()  # nothing listens on this port any more: a refused connection
    server.shutdown()
    monkeypatch.setattr(corpus_mod, "SHAKESPEARE_URL", f"http://127.0.0.1:{port}/x.txt")
    with pytest.raises(CorpusError, match="downloading it failed.*use --data stdlib.*--data PATH"):
        load_corpus("shakespeare", context=64)
    # The default tries the same, then trains on the stdlib sources and says how to get the real corpus.
    corpus, notice = default_corpus(context=64)
    assert corpus.name == "stdlib" and notice.count("\n") == 0
    assert "downloading it failed" in notice and "--data PATH, or $ABLATE_DATA_DIR" in notice


def test_offline_the_default_falls_back_without_touching_the_network(tmp_path, monkeypatch):
    monkeypatch.delenv("ABLATE_DATA_DIR", raising=False)
    monkeypatch.setenv("ABLATE_CACHE", str(tmp_path))
    monkeypatch.setattr(corpus_mod.urllib.request, "urlopen", lambda *a, **k: pytest.fail("no download offline"))
    corpus, notice = default_corpus(context=64)
    assert corpus.name == "stdlib" and "ABLATE_OFFLINE=1" in notice


def test_split_is_deterministic_and_disjoint(corpus):
    tokens = read_tokens(corpus)
    train, val = split(tokens, "train"), split(tokens, "val")
    assert len(train) + len(val) == len(tokens)
    assert len(val) == pytest.approx(VAL_FRACTION * len(tokens), abs=1)
    np.testing.assert_array_equal(np.concatenate([train, val]), tokens)
