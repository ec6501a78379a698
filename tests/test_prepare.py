"""`ablate prepare` (ablations/cli/prepare.py): a corpus made ready once, which runs then find; and a run on a
pretrained tokenizer.json, end to end, offline."""

import hashlib
import json

import numpy as np
from conftest import ablate
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from ablations.data.corpus import cache_dir, load_corpus, read_split


def _text(tmp_path, n_lines=4000):
    rng = np.random.default_rng(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler"]
    path = tmp_path / "text.txt"
    path.write_text("".join(" ".join(rng.choice(words, size=8)) + "\n" for _ in range(n_lines)))
    return path


def test_prepare_makes_the_shards_a_run_then_reads(tmp_path):
    path = _text(tmp_path)
    done = ablate("prepare", "--data", str(path), "--tokenizer", "bpe:300")
    assert done.returncode == 0, done.stderr
    assert f"runs name it with: --data {path} --tokenizer bpe:300" in done.stdout
    corpus = load_corpus(str(path), context=16)
    assert "tokens per validation byte" in done.stdout and corpus.sha256[:12] in done.stdout
    again = ablate("prepare", "--data", str(path), "--tokenizer", "bpe:300")
    assert again.returncode == 0 and again.stdout.splitlines()[:2] == done.stdout.splitlines()[:2]  # found, not redone
    assert len(read_split(corpus.tokenized("bpe:300"), "val")) > 0


def test_prepare_refuses_a_tokenizer_file_that_is_not_one_before_reading_the_corpus(tmp_path):
    (tmp_path / "broken.json").write_text("{}")
    text = _text(tmp_path, 4001)  # bytes no other test prepares
    done = ablate("prepare", "--data", str(text), "--tokenizer", str(tmp_path / "broken.json"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--tokenizer" in done.stderr and "is not a tokenizer.json" in done.stderr
    assert not (cache_dir() / "tokens" / f"{hashlib.sha256(text.read_bytes()).hexdigest()}.u8").exists()  # not read


def test_a_run_on_a_pretrained_tokenizer_json_trains_and_reports_per_byte(tmp_path):
    path = _text(tmp_path)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(["whether tis nobler in the mind to suffer\n"] * 20, trainers.BpeTrainer(
        vocab_size=290, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    results = tmp_path / "results"
    done = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "1", "--variants", "rmsnorm",
                  "--data", str(path), "--tokenizer", str(tmp_path / "tokenizer.json"), "--results-dir", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = results.glob("runs/rmsnorm_vs_layernorm/*/summary.json")
    config = json.loads((summary.parent / "config.json").read_text())
    assert config["tokenizer"] == str(tmp_path / "tokenizer.json")
    assert config["model"]["vocab_size"] == tokenizer.get_vocab_size()
    values = json.loads(summary.read_text())
    # Per byte: an untrained-ish smoke model scores near log(vocab) nats per token, fewer per byte since tokens
    # are longer than a byte here.
    tokens_per_byte = len(read_split(load_corpus(str(path), 16).tokenized(str(tmp_path / "tokenizer.json")), "val")) / (
        int(path.stat().st_size) - int(path.stat().st_size * 0.9))
    assert tokens_per_byte < 0.9 and 0 < values["final_val_loss"] < np.log(tokenizer.get_vocab_size())


def test_a_hub_tokenizer_is_fetched_once_into_the_cache_and_then_read_as_a_file(tmp_path, monkeypatch):
    import huggingface_hub

    from ablations.cli.flags import Tokenizer as TokenizerFlag

    saved = tmp_path / "hub" / "tokenizer.json"
    saved.parent.mkdir()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(["to be or not to be\n"] * 20, trainers.BpeTrainer(
        vocab_size=280, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer.save(str(saved))
    asked = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo_id, filename: asked.append((repo_id, filename))
                        or str(saved))
    monkeypatch.setenv("ABLATE_CACHE", str(tmp_path / "cache"))
    path = TokenizerFlag().parse("hf:someone/tiny-bpe", None)
    assert asked == [("someone/tiny-bpe", "tokenizer.json")]
    assert path == str(tmp_path / "cache" / "tokenizers" / "someone--tiny-bpe.tokenizer.json")
    assert open(path, "rb").read() == saved.read_bytes()  # the hub's bytes: their hash is the run's vocabulary id


def test_a_hub_tokenizer_not_in_the_cache_is_refused_offline_in_one_line(tmp_path):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = ablate("prepare", "--data", "stdlib", "--tokenizer", "hf:nobody-here/no-tokenizer", env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--tokenizer hf:nobody-here/no-tokenizer" in done.stderr
    assert "offline it must be in the Hugging Face cache" in done.stderr
