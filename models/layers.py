"""Building blocks. Each factory here is the only place a config string becomes a module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import ModelConfig


class LayerNorm(nn.Module):
    """Centre, scale to unit variance, then affine (Ba et al. 2016)."""

    def __init__(self, dim: int, eps: float, bias: bool) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """Scale by the root mean square only: no mean, no bias (Zhang & Sennrich 2019)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


def make_norm(config: ModelConfig) -> nn.Module:
    if config.norm == "rms":
        return RMSNorm(config.d_model, config.norm_eps)
    return LayerNorm(config.d_model, config.norm_eps, config.bias)


class GeluMlp(nn.Module):
    """W_out · GeLU(W_in · x), the GPT-2 MLP."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.w_in = nn.Linear(config.d_model, config.ffn_dim, bias=config.bias)
        self.w_out = nn.Linear(config.ffn_dim, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_out(F.gelu(self.w_in(x)))


class SwiGluMlp(nn.Module):
    """W_out · (SiLU(W_gate · x) ⊙ W_up · x) (Shazeer 2020); gate and up share one matmul."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.w_in = nn.Linear(config.d_model, 2 * config.ffn_dim, bias=config.bias)  # [gate; up]
        self.w_out = nn.Linear(config.ffn_dim, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w_in(x).chunk(2, dim=-1)
        return self.w_out(F.silu(gate) * up)


def make_mlp(config: ModelConfig) -> nn.Module:
    return SwiGluMlp(config) if config.mlp == "swiglu" else GeluMlp(config)


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021), rotate-half layout as in GPT-NeoX and LLaMA."""

    def __init__(self, head_dim: int, context: int, theta: float) -> None:
        super().__init__()
        inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(context, dtype=torch.float32), inv_freq)  # (T, hd/2)
        angles = torch.cat([angles, angles], dim=-1)  # (T, hd)
        # Derived from the config, so kept out of the state dict and checkpoints.
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.size(-2)
        first, second = x.chunk(2, dim=-1)
        rotated = torch.cat([-second, first], dim=-1)
        return x * self.cos[:t].to(x.dtype) + rotated * self.sin[:t].to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.out = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        self.rotary = Rotary(config.head_dim, config.context, config.rope_theta) if config.pos == "rope" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # 3×(B, nh, T, hd)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hd)
        return self.out(y.transpose(1, 2).reshape(b, t, d))
