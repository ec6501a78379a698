"""Named architectures as configs: the lecture's "architecture spreadsheet", generated from code.

Shapes follow each model's published configuration (one representative size per family); `tiny()`
keeps every architectural choice and shrinks the sizes for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.config import ModelConfig

_LLAMA = dict(norm="rms", activation="silu", gated=True, pos="rope", qkv_bias=False, linear_bias=False,
              tie_embeddings=False, norm_eps=1e-6)


@dataclass(frozen=True)
class Architecture:
    name: str
    size: str  # the published size these shapes are
    config: ModelConfig

    def tiny(self) -> ModelConfig:
        """Same choices, test-sized: 4 query heads of 16 dims, the real K/V-head ratio where it divides."""
        c = self.config
        kv = max(1, 4 * c.effective_n_kv_heads // c.n_heads)
        d_ff = 16 * max(1, round(c.effective_d_ff / c.d_model * 4))  # the same d_ff/d_model at d_model 64
        window = 8 if c.sliding_window else None
        return c.replace(vocab_size=256, context=64, d_model=64, n_heads=4, n_kv_heads=kv if 4 % kv == 0 else 4,
                         head_dim=16, d_ff=d_ff, n_layers=len(c.layer_pattern) * 2, sliding_window=window)


def _arch(name: str, size: str, **fields) -> Architecture:
    return Architecture(name, size, ModelConfig(**fields))


ARCHITECTURES = {a.name: a for a in [
    _arch("transformer_2017", "base, decoder stack", vocab_size=37_000, context=512, d_model=512, n_layers=6, n_heads=8,
          d_ff=2048, norm_position="post", final_norm=False, activation="relu", pos="sinusoidal"),
    _arch("gpt2", "124M", vocab_size=50_257, context=1024, d_model=768, n_layers=12, n_heads=12, activation="gelu_tanh"),
    # GPT-J's attention output has no bias while its MLP has one, and its head has a bias: linear_bias
    # covers both projections and heads have none here, so this row's count is approximate.
    _arch("gpt_j", "6B", vocab_size=50_400, context=2048, d_model=4096, n_layers=28, n_heads=16, activation="gelu_tanh",
          block="parallel", pos="rope", rotary_fraction=0.25, rope_layout="interleaved", qkv_bias=False, tie_embeddings=False),
    _arch("pythia", "6.9B (GPT-NeoX)", vocab_size=50_432, context=2048, d_model=4096, n_layers=32, n_heads=32,
          block="parallel_two_norms", pos="rope", rotary_fraction=0.25, tie_embeddings=False),
    _arch("bloom", "176B", vocab_size=250_880, context=2048, d_model=14_336, n_layers=70, n_heads=112,
          activation="gelu_tanh", pos="alibi", embed_norm=True),
    _arch("opt", "175B", vocab_size=50_272, context=2048, d_model=12_288, n_layers=96, n_heads=96, activation="relu"),
    _arch("palm", "540B", vocab_size=256_000, context=2048, d_model=18_432, n_layers=118, n_heads=48, n_kv_heads=1,
          head_dim=256, d_ff=73_728, activation="silu", gated=True, block="parallel", pos="rope", qkv_bias=False,
          linear_bias=False, norm_bias=False, z_loss=1e-4),
    _arch("llama", "7B", vocab_size=32_000, context=2048, d_model=4096, n_layers=32, n_heads=32, d_ff=11_008, **_LLAMA),
    _arch("llama2", "70B", vocab_size=32_000, context=4096, d_model=8192, n_layers=80, n_heads=64, n_kv_heads=8,
          d_ff=28_672, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("llama3", "8B", vocab_size=128_256, context=8192, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
          d_ff=14_336, rope_theta=500_000.0, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("mistral", "7B v0.1", vocab_size=32_000, context=32_768, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
          d_ff=14_336, sliding_window=4096, layer_pattern=("local",), **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("qwen2.5", "7B", vocab_size=152_064, context=32_768, d_model=3584, n_layers=28, n_heads=28, n_kv_heads=4,
          d_ff=18_944, rope_theta=1_000_000.0, **{**_LLAMA, "qkv_bias": True}),
    _arch("gemma2", "9B", vocab_size=256_000, context=8192, d_model=3584, n_layers=42, n_heads=16, n_kv_heads=8,
          head_dim=256, d_ff=14_336, norm="rms", norm_scale="offset", norm_eps=1e-6, norm_position="double",
          activation="gelu_tanh", gated=True, pos="rope", qkv_bias=False, linear_bias=False, scale_embeddings=True,
          attn_scale=256**-0.5, attn_softcap=50.0, output_softcap=30.0, sliding_window=4096,
          layer_pattern=("local", "global")),
    _arch("gemma3", "4B (text)", vocab_size=262_208, context=131_072, d_model=2560, n_layers=34, n_heads=8, n_kv_heads=4,
          head_dim=256, d_ff=10_240, norm="rms", norm_scale="offset", norm_eps=1e-6, norm_position="double",
          activation="gelu_tanh", gated=True, pos="rope", rope_theta=1_000_000.0, local_rope_theta=10_000.0,
          qk_norm="rms", qkv_bias=False, linear_bias=False, scale_embeddings=True, attn_scale=256**-0.5,
          sliding_window=1024, layer_pattern=("local",) * 5 + ("global",)),
    _arch("olmo2", "7B", vocab_size=100_352, context=4096, d_model=4096, n_layers=32, n_heads=32, d_ff=11_008,
          norm_position="post_block", qk_norm="rms", qk_norm_scope="all", rope_theta=500_000.0, **_LLAMA),
    _arch("command_r", "35B", vocab_size=256_000, context=8192, d_model=8192, n_layers=40, n_heads=64, d_ff=22_528,
          norm="layer", norm_bias=False, block="parallel", activation="silu", gated=True, pos="rope",
          rope_layout="interleaved", rope_theta=8_000_000.0, qkv_bias=False, linear_bias=False, logit_scale=0.0625),
    _arch("falcon", "7B", vocab_size=65_024, context=2048, d_model=4544, n_layers=32, n_heads=71, n_kv_heads=1,
          d_ff=18_176, block="parallel", pos="rope", qkv_bias=False, linear_bias=False),
    _arch("phi3", "mini 3.8B", vocab_size=32_064, context=4096, d_model=3072, n_layers=32, n_heads=32, d_ff=8192,
          **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("smollm", "135M", vocab_size=49_152, context=2048, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
          d_ff=1536, **{**_LLAMA, "tie_embeddings": True, "norm_eps": 1e-5}),
]}


def _stability(c: ModelConfig) -> str:
    tricks = [f"QK-{c.qk_norm}norm" + (" (all heads)" if c.qk_norm_scope == "all" else "")] if c.qk_norm else []
    tricks += [f"attn soft-cap {c.attn_softcap:g}"] if c.attn_softcap else []
    tricks += [f"logit soft-cap {c.output_softcap:g}"] if c.output_softcap else []
    tricks += [f"z-loss {c.z_loss:g}"] if c.z_loss else []
    return ", ".join(tricks) or "–"


def _positions(c: ModelConfig) -> str:
    if c.pos == "rope":
        text = "RoPE" + (f" ({c.rotary_fraction:g} of dims)" if c.rotary_fraction < 1 else "")
    else:
        text = {"sinusoidal": "sinusoidal", "learned": "learned", "alibi": "ALiBi", "t5": "T5 bias", "none": "NoPE"}[c.pos]
    if c.sliding_window:
        local = c.layer_pattern.count("local")
        text += f"; window {c.sliding_window} on {local}/{len(c.layer_pattern)} layers"
    return text


def spreadsheet_rows() -> list[list[str]]:
    rows = []
    for a in ARCHITECTURES.values():
        c = a.config
        act = {"relu": "ReLU", "gelu": "GeLU", "gelu_tanh": "GeLU", "relu2": "ReLU²", "silu": "SiLU"}[c.activation]
        act = {"ReLU": "ReGLU", "GeLU": "GeGLU", "SiLU": "SwiGLU"}.get(act, act + "-GLU") if c.gated else act
        norm = ("RMSNorm" if c.norm == "rms" else "LayerNorm") + (" (1+w)" if c.norm_scale == "offset" else "")
        rows.append([f"{a.name} {a.size}", f"{norm}, {c.norm_position.replace('_', '-')}", act, c.block.replace("_", " "),
                     _positions(c), f"{c.effective_n_kv_heads}/{c.n_heads}", f"{c.effective_d_ff / c.d_model:.2f}",
                     f"{c.effective_head_dim * c.n_heads / c.d_model:.2f}", f"{c.d_model / c.n_layers:.0f}", f"{c.vocab_size:,}",
                     _stability(c)])
    return rows


SPREADSHEET_HEADER = ["model", "norm", "MLP", "block", "positions", "kv/q heads", "d_ff/d", "heads·hd/d", "d/layers",
                      "vocab", "stability"]


def spreadsheet_markdown() -> str:
    lines = ["| " + " | ".join(SPREADSHEET_HEADER) + " |", "|" + "---|" * len(SPREADSHEET_HEADER)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in spreadsheet_rows()])
