"""Named architectures as configs: the lecture's "architecture spreadsheet", generated from code.

Shapes follow each model's published configuration file or paper (one representative size per family), each
with its source, release year and a note on what is not public or not expressible; `tiny()` keeps every
architectural choice and shrinks the sizes for tests. `models/survey.py` counts the lecture's rules over them.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.config import LLAMA_STYLE, ModelConfig

_LLAMA = dict(**LLAMA_STYLE, tie_embeddings=False, norm_eps=1e-6)


@dataclass(frozen=True)
class Architecture:
    name: str
    size: str  # the published size these shapes are
    config: ModelConfig
    year: int  # first public release of these weights, or of the paper where none were released
    source: str  # where the shapes come from: a paper (arXiv id, table) or a published config file
    multilingual: bool | None  # presented as built for several languages by its paper or card; None: not stated
    note: str = ""  # what is not public, or what ModelConfig cannot express and the closest choice taken
    moe: bool = False  # mixture of experts: d_ff is one expert's width, so the dense d_ff rules skip it

    def tiny(self) -> ModelConfig:
        """Same choices, test-sized: 4 query heads of 16 dims, the real K/V-head ratio where it divides."""
        c = self.config
        kv = max(1, 4 * c.effective_n_kv_heads // c.n_heads)
        d_ff = 16 * max(1, round(c.effective_d_ff / c.d_model * 4))  # the same d_ff/d_model at d_model 64
        window = 8 if c.sliding_window else None
        return c.replace(vocab_size=256, context=64, d_model=64, n_heads=4, n_kv_heads=kv if 4 % kv == 0 else 4,
                         head_dim=16, d_ff=d_ff, n_layers=len(c.layer_pattern) * 2, sliding_window=window)


def _arch(name: str, size: str, *, year: int, source: str, multilingual: bool | None, note: str = "",
          moe: bool = False, **fields) -> Architecture:
    return Architecture(name, size, ModelConfig(**fields), year, source, multilingual, note, moe)


_HYBRID_NOPE = dict(pos="rope", global_pos="none", layer_pattern=("local",) * 3 + ("global",))  # Command A, Llama 4

ARCHITECTURES = {a.name: a for a in [
    _arch("transformer_2017", "base, decoder stack", year=2017, multilingual=True,
          source="Vaswani et al. 2017 (arXiv 1706.03762), Table 3 'base'",
          note="encoder-decoder: the decoder stack without its cross-attention; a shared English–German BPE vocabulary",
          vocab_size=37_000, context=512, d_model=512, n_layers=6, n_heads=8,
          d_ff=2048, norm_position="post", final_norm=False, activation="relu", pos="sinusoidal"),
    _arch("gpt2", "124M", year=2019, multilingual=False, source="HF openai-community/gpt2 config.json",
          vocab_size=50_257, context=1024, d_model=768, n_layers=12, n_heads=12, activation="gelu_tanh"),
    _arch("t5", "11B, decoder stack", year=2019, multilingual=False,
          source="Raffel et al. 2020 (arXiv 1910.10683); HF google-t5/t5-11b config.json",
          note="encoder-decoder: one 24-layer stack of each, shown as the decoder without cross-attention; its "
          "'LayerNorm' only rescales (RMSNorm); no 1/√d score scaling; English pre-training (C4), the vocabulary "
          "also covers German, French and Romanian for translation",
          vocab_size=32_128, context=512, d_model=1024, n_layers=24, n_heads=128, head_dim=128, d_ff=65_536,
          norm="rms", norm_eps=1e-6, activation="relu", pos="t5", qkv_bias=False, linear_bias=False,
          attn_scale=1.0, logit_scale=1024**-0.5),
    _arch("gpt3", "175B", year=2020, multilingual=False, source="Brown et al. 2020 (arXiv 2005.14165), Table 2.1",
          note="alternates dense and locally banded sparse attention layers (band not published): shown as dense; "
          "biases and tied embeddings follow GPT-2, which the paper says it builds on",
          vocab_size=50_257, context=2048, d_model=12_288, n_layers=96, n_heads=96, activation="gelu"),
    # GPT-J's attention output has no bias while its MLP has one, and its head has a bias: linear_bias
    # covers both projections and heads have none here, so this row's count is approximate.
    _arch("gpt_j", "6B", year=2021, multilingual=False, source="HF EleutherAI/gpt-j-6b config.json",
          vocab_size=50_400, context=2048, d_model=4096, n_layers=28, n_heads=16, activation="gelu_tanh",
          block="parallel", pos="rope", rotary_fraction=0.25, rope_layout="interleaved", qkv_bias=False, tie_embeddings=False),
    _arch("gopher", "280B", year=2021, multilingual=False, source="Rae et al. 2021 (arXiv 2112.11446), Table 1",
          note="Transformer-XL relative positions (sinusoidal, inside attention): shown as the closest relative "
          "scheme, T5 buckets; GPT-2's GeLU, biases and tied embeddings assumed ('GPT-2 with two modifications')",
          vocab_size=32_000, context=2048, d_model=16_384, n_layers=80, n_heads=128, norm="rms", pos="t5"),
    _arch("chinchilla", "70B", year=2022, multilingual=False, source="Hoffmann et al. 2022 (arXiv 2203.15556), Table 4",
          note="Gopher's architecture (see gopher), relative positions shown as T5 buckets",
          vocab_size=32_000, context=2048, d_model=8192, n_layers=80, n_heads=64, norm="rms", pos="t5"),
    _arch("bloom", "176B", year=2022, multilingual=True, source="HF bigscience/bloom config.json; arXiv 2211.05100",
          vocab_size=250_880, context=2048, d_model=14_336, n_layers=70, n_heads=112,
          activation="gelu_tanh", pos="alibi", embed_norm=True),
    _arch("opt", "175B", year=2022, multilingual=False, source="Zhang et al. 2022 (arXiv 2205.01068), Table 1",
          vocab_size=50_272, context=2048, d_model=12_288, n_layers=96, n_heads=96, activation="relu"),
    _arch("palm", "540B", year=2022, multilingual=True, source="Chowdhery et al. 2022 (arXiv 2204.02311), Table 1",
          vocab_size=256_000, context=2048, d_model=18_432, n_layers=118, n_heads=48, n_kv_heads=1,
          head_dim=256, d_ff=73_728, activation="silu", gated=True, block="parallel", pos="rope", qkv_bias=False,
          linear_bias=False, norm_bias=False, z_loss=1e-4),
    _arch("pythia", "6.9B (GPT-NeoX)", year=2023, multilingual=False,
          source="HF EleutherAI/pythia-6.9b config.json; arXiv 2304.01373",
          vocab_size=50_432, context=2048, d_model=4096, n_layers=32, n_heads=32,
          block="parallel_two_norms", pos="rope", rotary_fraction=0.25, tie_embeddings=False),
    _arch("llama", "7B", year=2023, multilingual=False, source="HF huggyllama/llama-7b config.json; arXiv 2302.13971",
          note="mostly English: 20 languages only in its Wikipedia and Books share",
          vocab_size=32_000, context=2048, d_model=4096, n_layers=32, n_heads=32, d_ff=11_008, **_LLAMA),
    _arch("llama2", "70B", year=2023, multilingual=False,
          source="HF meta-llama/Llama-2-70b-hf config.json; arXiv 2307.09288",
          vocab_size=32_000, context=4096, d_model=8192, n_layers=80, n_heads=64, n_kv_heads=8,
          d_ff=28_672, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("mistral", "7B v0.1", year=2023, multilingual=False,
          source="HF mistralai/Mistral-7B-v0.1 config.json; arXiv 2310.06825",
          vocab_size=32_000, context=32_768, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
          d_ff=14_336, sliding_window=4096, layer_pattern=("local",), **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("falcon", "7B", year=2023, multilingual=True, source="HF tiiuae/falcon-7b config.json; arXiv 2311.16867",
          note="its card names English and French",
          vocab_size=65_024, context=2048, d_model=4544, n_layers=32, n_heads=71, n_kv_heads=1,
          d_ff=18_176, block="parallel", pos="rope", qkv_bias=False, linear_bias=False),
    _arch("yi", "34B", year=2023, multilingual=True, source="HF 01-ai/Yi-34B config.json; arXiv 2403.04652",
          note="English and Chinese",
          vocab_size=64_000, context=4096, d_model=7168, n_layers=60, n_heads=56, n_kv_heads=8, d_ff=20_480,
          rope_theta=5_000_000.0, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("deepseek_llm", "67B", year=2023, multilingual=True,
          source="HF deepseek-ai/deepseek-llm-67b-base config.json; arXiv 2401.02954, Table 2",
          note="dense; English and Chinese; weights released 2023-11, report 2024-01",
          vocab_size=102_400, context=4096, d_model=8192, n_layers=95, n_heads=64, n_kv_heads=8, d_ff=22_016, **_LLAMA),
    _arch("internlm2", "7B", year=2024, multilingual=True,
          source="HF internlm/internlm2-7b config.json; arXiv 2403.17297",
          note="English and Chinese",
          vocab_size=92_544, context=32_768, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8, d_ff=14_336,
          rope_theta=1_000_000.0, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("llama3", "8B", year=2024, multilingual=False,
          source="HF meta-llama/Meta-Llama-3-8B config.json", note="its card: intended for English",
          vocab_size=128_256, context=8192, d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
          d_ff=14_336, rope_theta=500_000.0, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("grok1", "314B (8 experts, 2 active)", year=2024, multilingual=None, moe=True,
          source="xai-org/grok-1 run.py and model.py (open weights 2024-03)",
          note="MoE: d_ff is one expert (8·d·2/3); attention logits are capped at 30 after scaling; languages "
          "not published",
          vocab_size=131_072, context=8192, d_model=6144, n_layers=64, n_heads=48, n_kv_heads=8, d_ff=32_768,
          norm="rms", norm_position="double", activation="gelu_tanh", gated=True, pos="rope", qkv_bias=False,
          linear_bias=False, scale_embeddings=True, logit_scale=3**-0.5, attn_softcap=30.0),
    _arch("phi3", "mini 3.8B", year=2024, multilingual=False,
          source="HF microsoft/Phi-3-mini-4k-instruct config.json; arXiv 2404.14219",
          vocab_size=32_064, context=4096, d_model=3072, n_layers=32, n_heads=32, d_ff=8192,
          **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("command_r", "35B", year=2024, multilingual=True, source="HF CohereForAI/c4ai-command-r-v01 config.json",
          vocab_size=256_000, context=8192, d_model=8192, n_layers=40, n_heads=64, d_ff=22_528,
          norm="layer", norm_bias=False, block="parallel", activation="silu", gated=True, pos="rope",
          rope_layout="interleaved", rope_theta=8_000_000.0, qkv_bias=False, linear_bias=False, logit_scale=0.0625),
    _arch("nemotron4", "340B", year=2024, multilingual=True,
          source="arXiv 2406.11704; NVIDIA NeMo Nemotron4Config340B",
          note="LayerNorm with a zero-centred gain (1+w), squared ReLU, RoPE on half of each head; 50+ languages",
          vocab_size=256_000, context=4096, d_model=18_432, n_layers=96, n_heads=96, n_kv_heads=8, d_ff=73_728,
          norm_scale="offset", activation="relu2", pos="rope", rotary_fraction=0.5, qkv_bias=False,
          linear_bias=False, tie_embeddings=False),
    _arch("gemma2", "9B", year=2024, multilingual=False, source="HF google/gemma-2-9b config.json; arXiv 2408.00118",
          note="its report: primarily English data",
          vocab_size=256_000, context=8192, d_model=3584, n_layers=42, n_heads=16, n_kv_heads=8,
          head_dim=256, d_ff=14_336, norm="rms", norm_scale="offset", norm_eps=1e-6, norm_position="double",
          activation="gelu_tanh", gated=True, pos="rope", qkv_bias=False, linear_bias=False, scale_embeddings=True,
          attn_scale=256**-0.5, attn_softcap=50.0, output_softcap=30.0, sliding_window=4096,
          layer_pattern=("local", "global")),
    _arch("smollm", "135M", year=2024, multilingual=False, source="HF HuggingFaceTB/SmolLM-135M config.json",
          vocab_size=49_152, context=2048, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3,
          d_ff=1536, **{**_LLAMA, "tie_embeddings": True, "norm_eps": 1e-5}),
    _arch("qwen2.5", "7B", year=2024, multilingual=True, source="HF Qwen/Qwen2.5-7B config.json; arXiv 2412.15115",
          vocab_size=152_064, context=32_768, d_model=3584, n_layers=28, n_heads=28, n_kv_heads=4,
          d_ff=18_944, rope_theta=1_000_000.0, **{**_LLAMA, "qkv_bias": True}),
    _arch("olmo2", "7B", year=2024, multilingual=False, source="HF allenai/OLMo-2-1124-7B config.json; arXiv 2501.00656",
          note="also trains with z-loss, a training term this config leaves off",
          vocab_size=100_352, context=4096, d_model=4096, n_layers=32, n_heads=32, d_ff=11_008,
          norm_position="post_block", qk_norm="rms", qk_norm_scope="all", rope_theta=500_000.0, **_LLAMA),
    _arch("phi4", "14B", year=2024, multilingual=False, source="HF microsoft/phi-4 config.json; arXiv 2412.08905",
          note="its card: primarily English",
          vocab_size=100_352, context=16_384, d_model=5120, n_layers=40, n_heads=40, n_kv_heads=10, d_ff=17_920,
          rope_theta=250_000.0, **{**_LLAMA, "norm_eps": 1e-5}),
    _arch("command_a", "111B", year=2025, multilingual=True,
          source="HF CohereLabs/c4ai-command-a-03-2025 config.json; arXiv 2504.00698",
          note="3 sliding-window RoPE layers, then 1 full-attention layer without positions; context: the card's "
          "256K; 23 languages",
          vocab_size=256_000, context=256_000, d_model=12_288, n_layers=64, n_heads=96, n_kv_heads=8, d_ff=36_864,
          norm="layer", norm_bias=False, block="parallel", activation="silu", gated=True, rope_layout="interleaved",
          rope_theta=50_000.0, qkv_bias=False, linear_bias=False, logit_scale=0.25, sliding_window=4096,
          **_HYBRID_NOPE),
    _arch("gemma3", "4B (text)", year=2025, multilingual=True,
          source="HF google/gemma-3-4b-pt config.json (text); arXiv 2503.19786",
          vocab_size=262_208, context=131_072, d_model=2560, n_layers=34, n_heads=8, n_kv_heads=4,
          head_dim=256, d_ff=10_240, norm="rms", norm_scale="offset", norm_eps=1e-6, norm_position="double",
          activation="gelu_tanh", gated=True, pos="rope", rope_theta=1_000_000.0, local_rope_theta=10_000.0,
          qk_norm="rms", qkv_bias=False, linear_bias=False, scale_embeddings=True, attn_scale=256**-0.5,
          sliding_window=1024, layer_pattern=("local",) * 5 + ("global",)),
    _arch("llama4", "Scout 17B-16E (text)", year=2025, multilingual=True, moe=True,
          source="HF meta-llama/Llama-4-Scout-17B-16E config.json (text_config)",
          note="MoE: 16 routed experts (1 active) and 1 shared, each 8,192 wide: d_ff is one expert; RoPE layers "
          "attend in 8,192-token chunks, shown as a sliding window; every 4th layer has no positions; QK-norm is "
          "a weightless L2 norm on RoPE layers only, shown as RMSNorm everywhere",
          vocab_size=202_048, context=262_144, d_model=5120, n_layers=48, n_heads=40, n_kv_heads=8, head_dim=128,
          d_ff=8192, qk_norm="rms", sliding_window=8192, rope_theta=500_000.0,
          **{**_LLAMA, **_HYBRID_NOPE, "norm_eps": 1e-5}),
]}


def _stability(c: ModelConfig) -> str:
    tricks = [f"QK-{c.qk_norm}norm" + (" (all heads)" if c.qk_norm_scope == "all" else "")] if c.qk_norm else []
    tricks += [f"attn soft-cap {c.attn_softcap:g}"] if c.attn_softcap else []
    tricks += [f"logit soft-cap {c.output_softcap:g}"] if c.output_softcap else []
    tricks += [f"z-loss {c.z_loss:g}"] if c.z_loss else []
    return ", ".join(tricks) or "–"


_POSITION_NAMES = {"sinusoidal": "sinusoidal", "learned": "learned", "alibi": "ALiBi", "t5": "T5 bias", "none": "NoPE"}


def _positions(c: ModelConfig) -> str:
    if c.pos == "rope":
        text = "RoPE" + (f" ({c.rotary_fraction:g} of dims)" if c.rotary_fraction < 1 else "")
    else:
        text = _POSITION_NAMES[c.pos]
    if c.sliding_window:
        local = c.layer_pattern.count("local")
        text += f"; window {c.sliding_window} on {local}/{len(c.layer_pattern)} layers"
    if c.global_pos not in (None, c.pos):
        text += f"; {_POSITION_NAMES[c.global_pos]} on the others"
    return text


def spreadsheet_rows() -> list[list[str]]:
    rows = []
    for a in ARCHITECTURES.values():
        c = a.config
        act = {"relu": "ReLU", "gelu": "GeLU", "gelu_tanh": "GeLU", "relu2": "ReLU²", "silu": "SiLU"}[c.activation]
        act = {"ReLU": "ReGLU", "GeLU": "GeGLU", "SiLU": "SwiGLU"}.get(act, act + "-GLU") if c.gated else act
        norm = ("RMSNorm" if c.norm == "rms" else "LayerNorm") + (" (1+w)" if c.norm_scale == "offset" else "")
        position = c.norm_position.replace("_", "-")
        rows.append([f"{a.name} {a.size}", str(a.year), f"{norm}, {position}", act, c.block.replace("_", " "),
                     _positions(c), f"{c.effective_n_kv_heads}/{c.n_heads}", f"{c.effective_d_ff / c.d_model:.2f}",
                     f"{c.effective_head_dim * c.n_heads / c.d_model:.2f}", f"{c.d_model / c.n_layers:.0f}", f"{c.vocab_size:,}",
                     _stability(c)])
    return rows


SPREADSHEET_HEADER = ["model", "year", "norm", "MLP", "block", "positions", "kv/q heads", "d_ff/d", "heads·hd/d", "d/layers",
                      "vocab", "stability"]


def spreadsheet_markdown() -> str:
    """The table, then each row's source and note: where a shape comes from and what the table cannot show."""
    lines = ["| " + " | ".join(SPREADSHEET_HEADER) + " |", "|" + "---|" * len(SPREADSHEET_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in spreadsheet_rows()]
    lines += ["", "Sources and notes:", ""]
    lines += [f"- **{a.name}**: {a.source}" + (f". {a.note[0].upper()}{a.note[1:]}." if a.note else "")
              for a in ARCHITECTURES.values()]
    return "\n".join(lines)
