"""Position schemes. Absolute ones are added to the embeddings; relative ones act inside attention."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.config import RopeLayout


def sinusoidal_table(context: int, dim: int) -> torch.Tensor:
    """Fixed sin/cos position embeddings (Vaswani et al. 2017): sin on even dims, cos on odd."""
    position = torch.arange(context, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10_000.0) / dim))
    table = torch.zeros(context, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021) on the first `dims` dims of each head.

    layout half: rotate (x[:d/2], x[d/2:]) pairs (GPT-NeoX, LLaMA); interleaved: (x[0], x[1]), … (GPT-J, Cohere).
    """

    def __init__(self, dims: int, context: int, theta: float, layout: RopeLayout) -> None:
        super().__init__()
        self.dims, self.layout, self.theta = dims, layout, theta
        self.reach(context)

    def reach(self, length: int) -> None:
        """Tables for positions [0, length): built for the training context, grown for longer evaluations."""
        inv_freq = self.theta ** (-torch.arange(0, self.dims, 2, dtype=torch.float32) / self.dims)
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # (T, dims/2)
        angles = torch.cat([angles, angles], -1) if self.layout == "half" else angles.repeat_interleave(2, -1)
        device = self.cos.device if hasattr(self, "cos") else None
        # Derived from the config, so kept out of the state dict and checkpoints.
        self.register_buffer("cos", angles.cos().to(device), persistent=False)  # (T, dims)
        self.register_buffer("sin", angles.sin().to(device), persistent=False)

    def _rotate(self, x: torch.Tensor) -> torch.Tensor:
        if self.layout == "half":
            first, second = x.chunk(2, dim=-1)
            return torch.cat([-second, first], dim=-1)
        return torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x: (B, h, T, hd); positions: (T,) absolute positions of the T tokens."""
        cos, sin = self.cos[positions].to(x.dtype), self.sin[positions].to(x.dtype)
        if self.dims == x.size(-1):  # every dim rotates: no concatenation, which would copy q and k once more
            return x * cos + self._rotate(x) * sin
        rot, rest = x[..., : self.dims], x[..., self.dims :]
        return torch.cat([rot * cos + self._rotate(rot) * sin, rest], dim=-1)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Per-head slopes of ALiBi (Press et al. 2022): a geometric sequence, interleaved when n_heads is
    not a power of two, as in the paper's reference code and BLOOM."""
    closest = 2 ** math.floor(math.log2(n_heads))
    base = 2 ** (-8 / closest)
    slopes = [base ** (i + 1) for i in range(closest)]
    if closest < n_heads:
        extra = 2 ** (-4 / closest)
        slopes += [extra ** (2 * i + 1) for i in range(n_heads - closest)]
    return torch.tensor(slopes)


def alibi_bias(slopes: torch.Tensor, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
    """−slope·distance to each earlier key: (h, Tq, Tk)."""
    distance = (q_pos[:, None] - k_pos[None, :]).to(slopes.dtype)
    return -slopes[:, None, None] * distance


class T5RelativeBias(nn.Module):
    """A learned scalar per head and log-spaced distance bucket (Raffel et al. 2020), causal form.
    One table is shared by all layers, as in T5."""

    def __init__(self, n_heads: int, buckets: int, max_distance: int) -> None:
        super().__init__()
        self.buckets, self.max_distance = buckets, max_distance
        self.table = nn.Embedding(buckets, n_heads)

    def bucket(self, distance: torch.Tensor) -> torch.Tensor:
        """Distance ≥ 0 back in time → bucket: exact below buckets/2, then logarithmic to max_distance."""
        exact = self.buckets // 2
        large = exact + (
            torch.log(distance.float().clamp(min=1) / exact) / math.log(self.max_distance / exact) * (self.buckets - exact)
        ).long()
        return torch.where(distance < exact, distance, large.clamp(max=self.buckets - 1))

    def forward(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        distance = (q_pos[:, None] - k_pos[None, :]).clamp(min=0)
        return self.table(self.bucket(distance)).permute(2, 0, 1)  # (h, Tq, Tk)
