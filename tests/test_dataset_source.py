"""`--data hf:...` (ablations/data/dataset_source.py): a local parquet dataset as a corpus, offline and end to end
with a pretrained tokenizer.json; its bytes are exactly its rows' text, a newline after each; bad input is one line,
exit 2, and leaves nothing in the cache."""

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ablate
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ablations.data.corpus import CorpusError, cache_dir, load_corpus, read_split
from ablations.data.dataset_source import ROWS

WORDS = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler", "é", "—"]


def _rows(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 30)))) + ("\n" if i % 7 == 0 else "") for i in range(n)]


def _parquet(path, rows, **columns):
    pq.write_table(pa.table({"id": list(range(len(rows))), "text": rows, **columns}), path, row_group_size=500)
    return path


def test_a_parquet_dataset_is_its_rows_text_a_newline_after_each(tmp_path):
    rows = _rows(3 * ROWS + 17)  # more than one batch of rows, the last one short
    corpus = load_corpus(f"hf:{_parquet(tmp_path / 'train.parquet', rows)}", context=16)
    expected = "".join(row + "\n" for row in rows).encode()
    assert corpus.sha256 == hashlib.sha256(expected).hexdigest() and corpus.n_tokens == len(expected)
    assert corpus.name == f"hf:{tmp_path / 'train.parquet'}"


def test_a_folder_of_parquet_files_reads_them_in_name_order_and_another_field_by_option(tmp_path):
    first, second = _rows(300, seed=1), _rows(200, seed=2)
    _parquet(tmp_path / "b.parquet", second, story=[r.upper() for r in second])
    _parquet(tmp_path / "a.parquet", first, story=[r.upper() for r in first])
    corpus = load_corpus(f"hf:{tmp_path}:field=story", context=16)
    expected = "".join(row.upper() + "\n" for row in first + second).encode()
    assert corpus.sha256 == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize("spec, says", [
    ("hf:{tmp}/train.parquet:field=body", "no text field 'body'; its fields: id, text"),
    ("hf:{tmp}/missing.parquet", "no such file or directory"),
    ("hf:{tmp}/train.parquet:colour=red", "'colour=red' is not an option"),
    ("hf:{tmp}/train.parquet:field=id", "holds non-text values"),
])
def test_bad_dataset_input_is_refused_before_anything_is_kept(tmp_path, spec, says):
    _parquet(tmp_path / "train.parquet", _rows(50))
    before = set((cache_dir() / "tokens").glob("*")) if (cache_dir() / "tokens").exists() else set()
    with pytest.raises(CorpusError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_corpus(spec.format(tmp=tmp_path), context=16)
    assert set((cache_dir() / "tokens").glob("*")) - before == set()  # no half copy left behind


def test_a_hub_name_not_in_the_cache_is_refused_offline_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to find
    done = ablate("prepare", "--data", "hf:nobody-here/no-such-dataset")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "--data hf:nobody-here/no-such-dataset" in done.stderr and "offline" in done.stderr


def test_a_run_on_a_parquet_dataset_with_a_pretrained_tokenizer_scores_per_byte(tmp_path):
    rows = _rows(4000, seed=3)
    data = f"hf:{_parquet(tmp_path / 'train.parquet', rows)}"
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(rows[:200], trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    results = tmp_path / "results"
    done = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "1", "--variants", "rmsnorm",
                  "--data", data, "--tokenizer", str(tmp_path / "tokenizer.json"), "--allow-repeats",
                  "--results-dir", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = results.glob("runs/rmsnorm_vs_layernorm/*/summary.json")
    config = json.loads((summary.parent / "config.json").read_text())
    assert config["corpus"] == data and config["model"]["vocab_size"] == tokenizer.get_vocab_size()
    corpus = load_corpus(data, 16).tokenized(str(tmp_path / "tokenizer.json"))
    val_text = np.asarray(np.memmap(corpus.tokens_path, dtype=np.uint8, mode="r")[int(corpus.n_tokens * 0.9):]).tobytes()
    assert tokenizer.decode(read_split(corpus, "val").tolist()).encode() == val_text  # the same bytes, exactly
    values = json.loads(summary.read_text())
    assert 0 < values["final_val_loss"] < np.log(tokenizer.get_vocab_size()) and values["train_passes"] > 0
