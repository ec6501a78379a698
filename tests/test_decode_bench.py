import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from ablations.bench import decode_bench
from ablations.bench.decode_bench import bench_config, decode, decode_table, decode_tokens_per_s, plot_decode, write_decode_report
from ablations.catalogue.mqa_vs_gqa import ABLATION
from ablations.declare.presets import PRESETS
from ablations.runs.resolve import model_config
from models import Transformer
from models.layers import KVCache

SMOKE = PRESETS["smoke"]  # 2 layers, d_model 32; the ablation's 8 query heads make head_dim 4


@pytest.fixture(autouse=True)
def one_thread():
    """Models this small gain nothing from threads, and on a busy machine each OpenMP barrier can stall."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_bench_decoding_past_the_preset_context_equals_the_full_forward():
    config = bench_config(model_config(ABLATION, "gqa_2", SMOKE), context=48)
    assert (config.context, config.pos) == (48, "rope")  # the smoke preset's 32 positions would not fit
    assert bench_config(config, context=16) is config
    torch.manual_seed(0)
    model, tokens = Transformer(config).eval(), torch.randint(0, config.vocab_size, (2, 48))
    with torch.inference_mode():
        cache = KVCache()
        prefill = model(tokens[:, :40], cache)
        decoded = decode(model, cache, tokens[:, 40:])
        torch.testing.assert_close(torch.cat([prefill, decoded], dim=1), model(tokens), atol=1e-5, rtol=1e-5)


def test_only_the_decode_steps_are_timed(monkeypatch):
    """A clock that reads how many token positions went through the model: a timed prefill would show."""
    seen = [0]
    forward = Transformer.forward

    def counting_forward(self, idx, cache=None):
        seen[0] += idx.size(1)
        return forward(self, idx, cache)

    monkeypatch.setattr(Transformer, "forward", counting_forward)
    monkeypatch.setattr(decode_bench, "_clock", lambda: float(seen[0]))
    config = model_config(ABLATION, "mqa", SMOKE)
    # Each repeat's elapsed "time" is new_tokens, so the rate is batch·new_tokens / new_tokens.
    assert decode_tokens_per_s(config, batch_size=3, context=40, new_tokens=5, repeats=2) == 3.0


def test_rate_is_batch_times_new_tokens_over_the_median_repeat_after_the_warm_up(monkeypatch):
    readings = iter([0, 100, 0, 3, 0, 1, 0, 2, 0, 5, 0, 4])  # (start, stop) per repeat; warm-up took 100
    monkeypatch.setattr(decode_bench, "_clock", lambda: next(readings))
    rate = decode_tokens_per_s(model_config(ABLATION, "mha", SMOKE), batch_size=2, context=8, new_tokens=4, repeats=5)
    assert rate == 2 * 4 / 3


def test_table_cache_bytes_follow_kv_heads_batch_and_context_and_speedups_divide_by_the_baseline():
    frame = decode_table(ABLATION, SMOKE, batch_sizes=[1, 3], contexts=[8, 20], new_tokens=2, repeats=1)
    assert len(frame) == len(ABLATION.variants) * 2 * 2
    assert set(frame["n_kv_heads"]) == {8, 4, 2, 1}
    # (k, v) · layers · K/V heads · head_dim · float32 bytes · batch · context
    expected = 2 * 2 * frame["n_kv_heads"] * 4 * 4 * frame["batch_size"] * frame["context"]
    assert frame["kv_cache_bytes"].tolist() == expected.tolist()
    wide = frame.pivot_table(index=["batch_size", "context"], columns="variant", values="kv_cache_bytes")
    for variant, heads in [("gqa_4", 4), ("gqa_2", 2), ("mqa", 1)]:
        assert (wide["mha"] == wide[variant] * 8 // heads).all()
    assert (frame.loc[frame["variant"] == "mha", "speedup_vs_baseline"] == 1.0).all()
    speeds = frame.set_index(["batch_size", "context", "variant"])["tokens_per_s"]
    for row in frame.itertuples():
        assert row.speedup_vs_baseline == row.tokens_per_s / speeds[(row.batch_size, row.context, "mha")]


def test_report_writes_the_measured_table_and_one_panel_per_batch_size(tmp_path, monkeypatch):
    # Tokens/s ∝ 1/(cache bytes), as if decoding were bound by reading the cache: speedup = n_heads / n_kv_heads.
    monkeypatch.setattr(decode_bench, "decode_tokens_per_s", lambda config, *args: 1e6 / config.effective_n_kv_heads)
    paths = write_decode_report(ABLATION, "smoke", tmp_path, batch_sizes=[1, 4], contexts=[16, 64], new_tokens=8,
                                repeats=3)
    assert [p.name for p in paths] == ["decode-smoke.md", "decode-smoke.csv", "decode-smoke.png"]
    assert all(p.exists() for p in paths)
    frame = pd.read_csv(paths[1])
    assert (frame["speedup_vs_baseline"] == 8 / frame["n_kv_heads"]).all()
    text = paths[0].read_text()
    assert decode_bench.PAPER in text and torch.__version__ in text and "float32" in text and "median of 3 repeats" in text
    assert text.count("| mqa | 1 |") == 4 and "| 8.00× |" in text
    fig = plot_decode(frame)
    assert [ax.get_title() for ax in fig.axes] == ["batch 1", "batch 4"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == list(ABLATION.variants)
    plt.close(fig)


def test_prompt_must_keep_a_token():
    with pytest.raises(ValueError, match="new_tokens=8"):
        decode_tokens_per_s(model_config(ABLATION, "mha", SMOKE), batch_size=1, context=8, new_tokens=8)
