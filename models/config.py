"""The one description of a model: every architectural choice is an independent, typed field.

"None means off" for features that carry a parameter (soft-caps, QK-norm, sliding window).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Literal

NormKind = Literal["layer", "rms"]
ResidualNorm = Literal["layer", "rms", "none"]  # none: no norm in the blocks or before the head
NormScale = Literal["weight", "offset", "none"]  # y·w (init 1), y·(1+w) (init 0, Gemma), y
NormPosition = Literal["pre", "post", "double", "post_block"]
Activation = Literal["relu", "gelu", "gelu_tanh", "relu2", "silu"]
BlockKind = Literal["serial", "parallel", "parallel_two_norms"]
PositionKind = Literal["sinusoidal", "learned", "rope", "alibi", "t5", "none"]
RopeLayout = Literal["half", "interleaved"]  # rotate halves (GPT-NeoX, LLaMA) or adjacent pairs (GPT-J, Cohere)
QKNormScope = Literal["head", "all"]  # per head (Gemma 3, Qwen 3) or over the whole projection (OLMo 2)
LayerKind = Literal["global", "local"]
MlpInit = Literal["gpt2", "fan_in"]  # N(0, 0.02) (GPT-2) or N(0, 1/d_model) (Mesh-TF T5, where the activation papers trained)
# The Llama-style block most of the lecture's comparisons start from: RMSNorm, SwiGLU, RoPE, no biases.
LLAMA_STYLE = dict(norm="rms", activation="silu", gated=True, pos="rope", qkv_bias=False, linear_bias=False)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A decoder-only transformer. Frozen and hashable so a run's identity can be derived from it."""

    # Sizes
    vocab_size: int = 256  # byte-level tokens by default: no tokenizer to train or download
    context: int = 256  # longest sequence; learned positions cost context·d_model parameters
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int | None = None  # None: n_heads (MHA); 1 is MQA; between is GQA. Shrinks the KV cache
    head_dim: int | None = None  # None: d_model / n_heads; Gemma and T5 decouple it
    d_ff: int | None = None  # set directly, or else d_ff_ratio·d_model rounded up to d_ff_multiple
    d_ff_ratio: float | None = None  # None: 4 for plain MLPs, 8/3 for gated (matches parameters, Shazeer 2020)
    d_ff_multiple: int = 64
    # Normalisation
    norm: ResidualNorm = "layer"  # rms drops the mean subtraction (Zhang & Sennrich 2019); none: CS336's "remove the norm"
    norm_scale: NormScale = "weight"
    norm_bias: bool = True  # LayerNorm's additive bias (never on RMSNorm)
    norm_eps: float = 1e-5
    norm_position: NormPosition = "pre"
    final_norm: bool = True  # a norm before the output head; pre-norm stacks need it
    embed_norm: bool = False  # a norm right after the embedding (BLOOM)
    # MLP
    activation: Activation = "gelu"
    gated: bool = False  # act(W_gate x) ⊙ W_up x: ReGLU, GeGLU, SwiGLU with relu, gelu, silu
    mlp_init: MlpInit = "gpt2"  # the MLP input matrices' init; 0.02 keeps pre-activations where SiLU/GeLU are near-linear
    # Linear layers
    qkv_bias: bool = True
    linear_bias: bool = True  # attention output and MLP projections
    # Block
    block: BlockKind = "serial"
    # Positions
    pos: PositionKind = "learned"
    sinusoid_scale: float = 1.0  # multiplier on the sinusoidal table, to meet the token embeddings' scale
    global_pos: PositionKind | None = None  # position scheme of global layers in a hybrid; None: same as pos
    rope_theta: float = 10_000.0
    local_rope_theta: float | None = None  # RoPE base of sliding-window layers (Gemma 3); None: rope_theta
    rotary_fraction: float = 1.0  # share of each head's dims that rotate (GPT-NeoX rotary_pct)
    rope_layout: RopeLayout = "half"
    t5_buckets: int = 32
    t5_max_distance: int = 128
    # Attention
    qk_norm: NormKind | None = None  # normalise queries and keys before the dot product
    qk_norm_scope: QKNormScope = "head"
    attn_scale: float | None = None  # None: head_dim ** -0.5; Gemma 2 uses query_pre_attn_scalar ** -0.5
    attn_softcap: float | None = None  # cap·tanh(logit/cap) on attention logits (Gemma 2: 50)
    sliding_window: int | None = None  # tokens a local layer sees, itself included
    layer_pattern: tuple[LayerKind, ...] = ("global",)  # repeated over depth: ("local",)*3 + ("global",) …
    attn_dropout: float = 0.0
    resid_dropout: float = 0.0
    # Embeddings and output
    tie_embeddings: bool = True  # output head shares the token embedding matrix
    embed_init_std: float = 0.02  # token embedding init; 1.0 with an untied head is CS336's init (tied, it is the head's too)
    scale_embeddings: bool = False  # multiply token embeddings by sqrt(d_model) (Gemma)
    logit_scale: float = 1.0  # multiplier on output logits (Cohere)
    output_softcap: float | None = None  # cap·tanh(logit/cap) on output logits (Gemma 2: 30)
    z_loss: float = 0.0  # coefficient of log²Z added to the loss (PaLM: 1e-4)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            _check_choice(field.name, hints[field.name], getattr(self, field.name))
        for name in ("vocab_size", "context", "d_model", "n_layers", "n_heads", "d_ff_multiple", "t5_buckets"):
            _positive_int(name, getattr(self, name))
        for name in ("n_kv_heads", "head_dim", "d_ff", "sliding_window"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if self.head_dim is None and self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.n_heads={self.n_heads} must divide d_model={self.d_model} (or set head_dim)")
        if self.n_heads % self.effective_n_kv_heads:
            raise ValueError(f"ModelConfig.n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")
        if not 0 < self.rotary_fraction <= 1 or self.rotary_dims % 2:
            raise ValueError(f"ModelConfig.rotary_fraction={self.rotary_fraction} must give an even dim count in (0, head_dim]")
        if "local" in self.layer_pattern and self.sliding_window is None:
            raise ValueError("ModelConfig.layer_pattern has local layers: set sliding_window")
        if self.block == "parallel_two_norms" and self.norm_position != "pre":
            raise ValueError("ModelConfig.block='parallel_two_norms' is defined for norm_position='pre' only")
        if self.global_pos in ("learned", "sinusoidal"):
            raise ValueError("ModelConfig.global_pos must act inside attention: rope, alibi, t5 or none")
        if self.norm == "none" and self.final_norm:
            raise ValueError("ModelConfig.norm='none' removes every norm: set final_norm=False as well")
        if self.embed_init_std <= 0 or self.sinusoid_scale <= 0:
            raise ValueError("ModelConfig.embed_init_std and sinusoid_scale must be positive")
        if not self.layer_pattern:
            raise ValueError("ModelConfig.layer_pattern must name at least one layer kind: global, local")
        for name in ("attn_dropout", "resid_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)} must lie in [0, 1)")

    # effective_*: a size field with its None resolved; the field itself stays as set, so run ids do not change.
    @property
    def effective_n_kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def effective_head_dim(self) -> int:
        return self.head_dim or self.d_model // self.n_heads

    @property
    def rotary_dims(self) -> int:
        return int(self.effective_head_dim * self.rotary_fraction)

    @property
    def effective_d_ff(self) -> int:
        """Hidden width of the MLP: the explicit d_ff, else the lecture's rule of thumb."""
        if self.d_ff is not None:
            return self.d_ff
        ratio = self.d_ff_ratio or (8 / 3 if self.gated else 4)
        return self.d_ff_multiple * math.ceil(ratio * self.d_model / self.d_ff_multiple)

    def layer_kind(self, layer: int) -> LayerKind:
        return self.layer_pattern[layer % len(self.layer_pattern)]

    def layer_pos(self, layer: int) -> PositionKind:
        return self.global_pos or self.pos if self.layer_kind(layer) == "global" else self.pos

    def replace(self, **overrides: object) -> ModelConfig:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self))
            raise ValueError(f"unknown ModelConfig field(s) {', '.join(unknown)}; valid fields: {valid}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _choices(hint) -> tuple:
    """The allowed values of a Literal field, also inside Optional[...] and tuple[Literal, ...]."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    args = [arg for arg in typing.get_args(hint) if arg is not type(None) and arg is not Ellipsis]
    return tuple(value for arg in args for value in _choices(arg))


def _check_choice(name: str, hint, value) -> None:
    allowed = _choices(hint)
    if not allowed or value is None:
        return
    for item in value if isinstance(value, tuple) else (value,):
        if item not in allowed:
            raise ValueError(f"ModelConfig.{name}={item!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"ModelConfig.{name}={value!r} must be a positive integer")
