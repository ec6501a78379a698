"""`ablate decode-bench`: how fast each variant decodes through its KV cache, on this machine.

Decoding one token reads every cached key and value, so at large batch and long context the cache's memory
traffic, not the matmuls, sets the pace; fewer K/V heads shrink it. Ainslie et al. 2023 (arXiv 2305.13245)
time T5-XXL at 1.51 s per sample with MHA, 0.28 s with GQA-8 and 0.24 s with MQA.

Each measurement prefills a random prompt of context − new_tokens tokens (untimed), then times new_tokens
single-token steps through the cache. Random weights: the speed does not depend on their values.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from ablations.declare.presets import Preset, get_preset
from ablations.declare.spec import Ablation
from ablations.reporting.markdown import markdown_table
from ablations.runs.resolve import model_config
from ablations.training.device import device_name
from models import ModelConfig, Transformer, kv_cache_bytes
from models.layers import KVCache

PAPER = ("Ainslie et al. 2023, T5-XXL inference: MHA 1.51 s/sample, GQA-8 0.28 s (5.4× faster), "
         "MQA 0.24 s (6.3× faster)")

_clock = time.perf_counter  # a module attribute so tests can substitute a fake clock


def bench_config(config: ModelConfig, context: int) -> ModelConfig:
    """The config with room for `context` positions (RoPE tables and learned positions are sized by it)."""
    return config if config.context >= context else config.replace(context=context)


def decode(model: Transformer, cache: KVCache, tokens: torch.Tensor) -> torch.Tensor:
    """Feed tokens (B, n) through the cache one at a time, as decoding does: their logits (B, n, vocab)."""
    return torch.cat([model(tokens[:, i : i + 1], cache) for i in range(tokens.size(1))], dim=1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # CUDA launches return at once: wait for the kernels before reading the clock


def decode_tokens_per_s(config: ModelConfig, batch_size: int, context: int, new_tokens: int, device: str = "cpu",
                        repeats: int = 5, dtype: torch.dtype | None = None) -> float:
    """batch_size·new_tokens / the median time to decode new_tokens tokens after a prompt of context − new_tokens.

    dtype None keeps PyTorch's default (float32).
    """
    if not 0 < new_tokens < context:
        raise ValueError(f"new_tokens={new_tokens} must lie in (0, context={context}): the prompt needs a token")
    device = torch.device(device)
    config = bench_config(config, context)
    model = Transformer(config).to(device=device, dtype=dtype).eval()
    tokens = torch.randint(0, config.vocab_size, (batch_size, context), device=device)
    prompt, continuation = tokens[:, : context - new_tokens], tokens[:, context - new_tokens :]
    seconds = []
    with torch.inference_mode():
        prefilled = KVCache()
        model(prompt, prefilled)  # once: at long contexts the prefill costs more than the decoding it precedes
        for _ in range(repeats + 1):  # the first is a warm-up: allocator, kernel choice, CPU caches
            cache = copy.deepcopy(prefilled)  # every repeat decodes from the same prompt
            _sync(device)
            start = _clock()
            decode(model, cache, continuation)
            _sync(device)
            seconds.append(_clock() - start)
    return batch_size * new_tokens / statistics.median(seconds[1:])


def decode_table(ablation: Ablation, preset: Preset, batch_sizes: Sequence[int], contexts: Sequence[int],
                 new_tokens: int = 32, device: str = "cpu", repeats: int = 5,
                 dtype: torch.dtype | None = None) -> pd.DataFrame:
    """One row per (variant, batch size, context). kv_cache_bytes: K and V of every layer for the whole batch
    at full context, at the measured dtype's width; speedup_vs_baseline: tokens/s over the baseline's at the
    same batch size and context."""
    value_bytes = (dtype or torch.get_default_dtype()).itemsize
    configs = {variant: model_config(ablation, variant, preset) for variant in ablation.variants}
    rows = []
    # Variants side by side within each shape, so a drift in background load hits all of them alike.
    for batch_size in batch_sizes:
        for context in contexts:
            for variant, config in configs.items():
                speed = decode_tokens_per_s(config, batch_size, context, new_tokens, device, repeats, dtype)
                rows.append(dict(variant=variant, n_kv_heads=config.effective_n_kv_heads, batch_size=batch_size, context=context,
                                 kv_cache_bytes=batch_size * kv_cache_bytes(config, context, value_bytes),
                                 tokens_per_s=speed))
    frame = pd.DataFrame(rows)
    baseline = frame.loc[frame["variant"] == ablation.baseline, ["batch_size", "context", "tokens_per_s"]]
    frame = frame.merge(baseline, on=["batch_size", "context"], suffixes=("", "_baseline"))
    frame["speedup_vs_baseline"] = frame["tokens_per_s"] / frame.pop("tokens_per_s_baseline")
    return frame


def plot_decode(frame: pd.DataFrame, path: Path | None = None, title: str = "") -> plt.Figure:
    """Decoded tokens/s against context, one line per variant, one panel per batch size."""
    batches, contexts = sorted(frame["batch_size"].unique()), sorted(frame["context"].unique())
    fig, axes = plt.subplots(1, len(batches), figsize=(4.5 * len(batches), 4), squeeze=False)
    for ax, batch_size in zip(axes[0], batches):
        sns.lineplot(data=frame[frame["batch_size"] == batch_size], x="context", y="tokens_per_s", hue="variant",
                     marker="o", ax=ax)
        ax.set(title=f"batch {batch_size}", xscale="log", xlabel="context (tokens)", ylabel="decoded tokens/s")
        ax.set_xticks(contexts, [str(c) for c in contexts], minor=False)
        ax.minorticks_off()
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _markdown(ablation: Ablation, frame: pd.DataFrame) -> str:
    header = ["variant", "K/V heads", "batch", "context", "KV cache (KiB)", "tokens/s", f"speedup vs {ablation.baseline}"]
    rows = [[row.variant, str(row.n_kv_heads), str(row.batch_size), str(row.context), f"{row.kv_cache_bytes / 2**10:,.1f}",
             f"{row.tokens_per_s:.0f}", f"{row.speedup_vs_baseline:.2f}×"] for row in frame.itertuples()]
    return markdown_table(header, rows)


def write_decode_report(ablation: Ablation, preset: str, out_dir: Path, batch_sizes: Sequence[int],
                        contexts: Sequence[int], new_tokens: int = 32, device: str = "cpu", repeats: int = 5,
                        dtype: torch.dtype | None = None) -> list[Path]:
    """Measure, then write decode-PRESET.md, .csv and .png under out_dir; return their paths. Named by the preset,
    so a quick smoke measurement never overwrites a committed one."""
    frame = decode_table(ablation, get_preset(preset), batch_sizes, contexts, new_tokens, device, repeats, dtype)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"decode-{preset}.{suffix}" for suffix in ("md", "csv", "png")]
    frame.to_csv(paths[1], index=False)
    plt.close(plot_decode(frame, paths[2], title=f"{ablation.name} decode speed, preset {preset}"))
    dtype_name = str(dtype or torch.get_default_dtype()).removeprefix("torch.")
    paths[0].write_text("\n\n".join([
        f"# {ablation.name}: decode speed, preset `{preset}`",
        f"Device: {device_name(torch.device(device))}. torch {torch.__version__}, {dtype_name}. Each row: "
        f"{new_tokens} tokens decoded one at a time after an untimed prefill of context − {new_tokens}; "
        f"median of {repeats} repeats after one warm-up. KV cache: K and V of every layer for the whole batch "
        f"at full context, {dtype_name}.",
        _markdown(ablation, frame),
        f"Paper: {PAPER}.",
        f"![{paths[2].name}]({paths[2].name})",
    ]) + "\n")
    return paths
