"""Norms, MLPs and attention. Each factory here is the only place a config string becomes a module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import ModelConfig, NormKind
from models.flex import flex_attend
from models.positions import Rotary, T5RelativeBias, alibi_bias, alibi_slopes


class Norm(nn.Module):
    """LayerNorm (Ba et al. 2016) or RMSNorm (Zhang & Sennrich 2019) through PyTorch's fused ops.

    scale weight: y·w; offset: y·(1 + w) with w starting at 0 (Gemma); none: no gain.
    """

    def __init__(self, kind: NormKind, dim: int, config: ModelConfig) -> None:
        super().__init__()
        self.kind, self.shape, self.eps, self.scale = kind, (dim,), config.norm_eps, config.norm_scale
        start = torch.zeros(dim) if self.scale == "offset" else torch.ones(dim)
        self.weight = nn.Parameter(start) if self.scale != "none" else None
        self.bias = nn.Parameter(torch.zeros(dim)) if kind == "layer" and config.norm_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.weight if self.scale == "offset" else self.weight
        if gain is not None and x.dtype != gain.dtype:
            # Under bf16 autocast: F.rms_norm with a bf16 input and a float32 gain leaves the fused kernel, while
            # autocast runs layer_norm fused in float32; normalising in the gain's dtype keeps both fused and alike.
            x = x.to(gain.dtype)
        if self.kind == "rms":
            return F.rms_norm(x, self.shape, gain, self.eps)
        return F.layer_norm(x, self.shape, gain, self.bias, self.eps)


def make_norm(config: ModelConfig, dim: int | None = None) -> nn.Module:
    """The residual stream's norm; with norm none, the identity (no parameters), wherever the position puts it."""
    return nn.Identity() if config.norm == "none" else Norm(config.norm, dim or config.d_model, config)


_ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu2": lambda x: F.relu(x).square(),  # primer (So et al. 2021)
    "silu": F.silu,
}


class Mlp(nn.Module):
    """W_out · act(W_in x), or gated: W_out · (act(W_gate x) ⊙ W_up x) (Shazeer 2020) with gate and up in
    one matmul. Without its own input projection (fused parallel block) it takes W_in x directly."""

    def __init__(self, config: ModelConfig, project_input: bool = True) -> None:
        super().__init__()
        self.act, self.gated = _ACTIVATIONS[config.activation], config.gated
        self.in_features = (2 if config.gated else 1) * config.effective_d_ff  # [gate; up] when gated
        self.w_in = nn.Linear(config.d_model, self.in_features, bias=config.linear_bias) if project_input else None
        self.w_out = nn.Linear(config.effective_d_ff, config.d_model, bias=config.linear_bias)

    def activate_and_project(self, h: torch.Tensor) -> torch.Tensor:
        """W_out · act(h), or gated W_out · (act(gate) ⊙ up): the MLP after its input projection."""
        if self.gated:
            gate, up = h.chunk(2, dim=-1)
            return self.w_out(self.act(gate) * up)
        return self.w_out(self.act(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate_and_project(self.w_in(x))


class KVCache:
    """Keys and values per layer for incremental decoding, in preallocated buffers.

    A step writes its keys and values in place; a full buffer is replaced by one twice the size of what
    it must keep, so decoding copies O(1) entries per token (amortised) instead of the whole cache, as a
    `torch.cat` per token would, which would make decode speed a property of this class rather than of
    the number of K/V heads. A sliding-window layer keeps only its last `window` entries.
    """

    def __init__(self) -> None:
        self.buffers: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # layer → (k, v, positions)
        self.used: dict[int, int] = {}  # layer → filled slots
        self.windows: dict[int, int | None] = {}
        self.length = 0  # tokens seen so far

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor, window: int | None):
        """Append (B, h, T, hd) keys and values at `pos` (T,); return every key, value and position a query
        of this step may attend to (for a windowed layer: its last window, then the step's own)."""
        new = k.size(2)
        self.windows[layer] = window
        if layer not in self.buffers or self.used[layer] + new > self.buffers[layer][0].size(2):
            self._reserve(layer, k, v, pos, new)
        buf_k, buf_v, buf_pos = self.buffers[layer]
        used, end = self.used[layer], self.used[layer] + new
        buf_k[:, :, used:end], buf_v[:, :, used:end], buf_pos[used:end] = k, v, pos
        self.used[layer] = end
        start = 0 if window is None else max(0, used - window)
        return buf_k[:, :, start:end], buf_v[:, :, start:end], buf_pos[start:end]

    def _reserve(self, layer: int, k: torch.Tensor, v: torch.Tensor, pos: torch.Tensor, new: int) -> None:
        old, window = self.buffers.get(layer), self.windows[layer]
        used = self.used.get(layer, 0)
        keep = used if window is None else min(used, window)  # what a later query can still see
        size = 2 * (keep + new)
        b, h, _, d = k.shape
        fresh = k.new_empty(b, h, size, d), v.new_empty(b, v.size(1), size, v.size(3)), pos.new_empty(size)
        if old is not None:
            fresh[0][:, :, :keep], fresh[1][:, :, :keep] = old[0][:, :, used - keep : used], old[1][:, :, used - keep : used]
            fresh[2][:keep] = old[2][used - keep : used]
        self.buffers[layer], self.used[layer] = fresh, keep

    def held(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the keys and values a later token can still attend to: the real cache footprint."""
        out = []
        for layer, (k, v, _) in self.buffers.items():
            used, window = self.used[layer], self.windows[layer]
            start = 0 if window is None else max(0, used - window)
            out.append((k[:, :, start:used], v[:, :, start:used]))
        return out


class Attention(nn.Module):
    """Causal multi-head attention with grouped K/V heads (MHA, GQA, MQA).

    Paths, fastest first, all equal to the explicit one up to float rounding (tests/test_flex.py):
    plain causal attention: SDPA's fused kernels (`enable_gqa`, never repeated K/V);
    soft-cap, sliding window, ALiBi, T5 bias under torch.compile on a GPU: FlexAttention (models/flex.py);
    otherwise windows and biases: SDPA with an additive mask; a soft-cap: the explicit path (SDPA cannot cap).
    """

    def __init__(self, config: ModelConfig, layer: int, project_input: bool = True) -> None:
        super().__init__()
        self.layer, self.n_heads, self.n_kv_heads = layer, config.n_heads, config.effective_n_kv_heads
        self.head_dim = config.effective_head_dim
        self.q_dim, self.kv_dim = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        self.in_features = self.q_dim + 2 * self.kv_dim  # [q; k; v]
        self.qkv = nn.Linear(config.d_model, self.in_features, bias=config.qkv_bias) if project_input else None
        self.out = nn.Linear(self.q_dim, config.d_model, bias=config.linear_bias)
        self.scale = config.attn_scale or self.head_dim**-0.5
        self.softcap, self.dropout = config.attn_softcap, config.attn_dropout
        self.window = config.sliding_window if config.layer_kind(layer) == "local" else None
        self.pos = config.layer_pos(layer)
        self.qk_scope = config.qk_norm_scope
        if config.qk_norm is not None:
            per_head = config.qk_norm_scope == "head"
            self.q_norm = Norm(config.qk_norm, self.head_dim if per_head else self.q_dim, config)
            self.k_norm = Norm(config.qk_norm, self.head_dim if per_head else self.kv_dim, config)
        else:
            self.q_norm = self.k_norm = None
        if self.pos == "rope":
            theta = config.local_rope_theta if self.window and config.local_rope_theta else config.rope_theta
            self.rotary = Rotary(config.rotary_dims, config.context, theta, config.rope_layout)
        if self.pos == "alibi":
            self.register_buffer("slopes", alibi_slopes(self.n_heads), persistent=False)

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, n, self.head_dim).transpose(1, 2)  # (B, n, T, hd)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None,
                t5: T5RelativeBias | None = None, max_logits: list[torch.Tensor] | None = None) -> torch.Tensor:
        return self.attend(self.qkv(x), positions, cache, t5, max_logits)

    def attend(self, qkv: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None,
               t5: T5RelativeBias | None = None, max_logits: list[torch.Tensor] | None = None) -> torch.Tensor:
        """qkv: (B, T, in_features) projected inputs; positions: (T,) absolute positions.
        Given a list, max_logits gets this layer's largest attention logit appended (see `_max_logit`)."""
        b, t, _ = qkv.shape
        q, k, v = qkv.split([self.q_dim, self.kv_dim, self.kv_dim], dim=-1)
        if self.q_norm is not None and self.qk_scope == "all":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = self._heads(q, self.n_heads), self._heads(k, self.n_kv_heads), self._heads(v, self.n_kv_heads)
        if self.q_norm is not None and self.qk_scope == "head":
            q, k = self.q_norm(q), self.k_norm(k)
        if self.pos == "rope":
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        k_pos = positions
        if cache is not None:
            k, v, k_pos = cache.extend(self.layer, k, v, positions, self.window)
        if max_logits is not None:
            max_logits.append(self._max_logit(q, k, positions, k_pos))
        if self._fused_by_flex(q, cache):
            y = self._flex(q, k, v, positions, t5)
        else:
            y = self._scores_to_values(q, k, v, positions, k_pos, t5)  # (B, nh, T, hd)
        return self.out(y.transpose(1, 2).reshape(b, t, self.q_dim))

    @property
    def beyond_sdpa(self) -> bool:
        """Whether SDPA's fused kernels cannot express this layer: a soft-cap, a window or a positional bias."""
        return self.softcap is not None or self.window is not None or self.pos in ("alibi", "t5")

    def _fused_by_flex(self, q: torch.Tensor, cache: KVCache | None) -> bool:
        """FlexAttention where it is fused and has a backward (compiled, on a GPU), for what SDPA cannot fuse."""
        no_dropout = not (self.training and self.dropout)
        return self.beyond_sdpa and no_dropout and cache is None and q.is_cuda and torch.compiler.is_compiling()

    def _flex(self, q, k, v, positions: torch.Tensor, t5: T5RelativeBias | None) -> torch.Tensor:
        return flex_attend(q, k, v, scale=self.scale, window=self.window, softcap=self.softcap,
                           slopes=self.slopes if self.pos == "alibi" else None,
                           bias=t5(positions, positions) if self.pos == "t5" else None)

    def _allowed(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """(Tq, Tk) boolean: which keys each query may attend to (causal; within the window on a local layer)."""
        allowed = k_pos[None, :] <= q_pos[:, None]
        if self.window is not None:
            allowed &= q_pos[:, None] - k_pos[None, :] < self.window
        return allowed

    def _mask(self, q_pos: torch.Tensor, k_pos: torch.Tensor, t5: T5RelativeBias | None) -> torch.Tensor:
        """Additive (h, Tq, Tk) bias, or the boolean (Tq, Tk) mask when there is no positional bias."""
        allowed = self._allowed(q_pos, k_pos)
        bias = None
        if self.pos == "alibi":
            bias = alibi_bias(self.slopes, q_pos, k_pos)
        elif self.pos == "t5":
            bias = t5(q_pos, k_pos)
        if bias is None:
            return allowed
        return bias.masked_fill(~allowed, float("-inf"))

    def _logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Explicit (B, nh, Tq, Tk) attention logits, soft-capped when configured (Gemma 2: cap·tanh(s/cap))."""
        k = k.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        scores = q @ k.transpose(-2, -1) * self.scale
        return scores if self.softcap is None else self.softcap * torch.tanh(scores / self.softcap)

    def _max_logit(self, q, k, q_pos, k_pos) -> torch.Tensor:
        """Largest pre-softmax logit a query gives an allowed key: grows before attention collapses
        (Dehghani et al. 2023; Wortsman et al. 2023). A 0-dim tensor, computed outside the fused kernel."""
        return self._logits(q, k).masked_fill(~self._allowed(q_pos, k_pos), float("-inf")).amax()

    def _scores_to_values(self, q, k, v, q_pos, k_pos, t5) -> torch.Tensor:
        plain = self.window is None and self.pos not in ("alibi", "t5") and len(q_pos) == len(k_pos)
        mask = None if plain else self._mask(q_pos, k_pos, t5)
        dropout = self.dropout if self.training else 0.0
        if self.softcap is None:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=plain, dropout_p=dropout,
                                                  scale=self.scale, enable_gqa=self.n_kv_heads != self.n_heads)
        return self._explicit(q, k, v, q_pos, k_pos, t5, dropout)  # SDPA cannot soft-cap its logits

    def _explicit(self, q, k, v, q_pos, k_pos, t5, dropout: float = 0.0) -> torch.Tensor:
        """The reference path every other equals: explicit (B, nh, Tq, Tk) logits, masked, softmax, times V."""
        scores = self._logits(q, k)
        mask = self._mask(q_pos, k_pos, t5)
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        v = v.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)
        return F.dropout(scores.softmax(-1), dropout) @ v
