"""The one description of a model: every architectural choice is an independent, typed field."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Literal

NormKind = Literal["layer", "rms"]
NormPosition = Literal["pre", "post"]
MlpKind = Literal["gelu", "swiglu"]
PositionKind = Literal["learned", "rope"]


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """A decoder-only transformer. Frozen and hashable so a run's identity can be derived from it."""

    vocab_size: int = 256  # byte-level tokens by default: no tokenizer to train or download
    context: int = 256  # longest sequence; learned positions cost context·d_model parameters
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None  # None: 4·d_model for plain MLPs, 8/3·d_model (to a multiple of 64) for gated
    norm: NormKind = "layer"  # rms drops the mean subtraction and the bias (Zhang & Sennrich 2019)
    norm_position: NormPosition = "pre"  # pre: x + f(N(x)); post: N(x + f(x)) as in the 2017 original
    final_norm: bool = True  # a norm before the output head; pre-norm stacks need it
    mlp: MlpKind = "gelu"  # swiglu adds a gate matrix, so its default d_ff is smaller
    pos: PositionKind = "learned"
    rope_theta: float = 10_000.0
    bias: bool = True  # biases in linear layers and LayerNorm (RMSNorm never has one)
    tie_embeddings: bool = True  # output head shares the token embedding matrix
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            allowed = typing.get_args(hints[field.name])
            value = getattr(self, field.name)
            if typing.get_origin(hints[field.name]) is Literal and value not in allowed:
                raise ValueError(f"ModelConfig.{field.name}={value!r} is not allowed; choose one of {', '.join(allowed)}")
        for name in ("vocab_size", "context", "d_model", "n_layers", "n_heads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r} must be a positive integer")
        if self.d_ff is not None and (not isinstance(self.d_ff, int) or self.d_ff < 1):
            raise ValueError(f"ModelConfig.d_ff={self.d_ff!r} must be a positive integer or None (use the rule of thumb)")
        if self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.n_heads={self.n_heads} must divide d_model={self.d_model}")
        if self.pos == "rope" and self.head_dim % 2:
            raise ValueError(f"ModelConfig.pos='rope' needs an even head dim, got d_model/n_heads={self.head_dim}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def ffn_dim(self) -> int:
        """Hidden width of the MLP: the explicit d_ff, else the lecture's rule of thumb."""
        if self.d_ff is not None:
            return self.d_ff
        if self.mlp == "swiglu":
            return 64 * math.ceil(8 * self.d_model / 3 / 64)
        return 4 * self.d_model

    def replace(self, **overrides: object) -> ModelConfig:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(self))
            raise ValueError(f"unknown ModelConfig field(s) {', '.join(unknown)}; valid fields: {valid}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
