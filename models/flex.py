"""FlexAttention forms of the attention variants SDPA's fused kernels cannot express (Dong et al. 2024,
`torch.nn.attention.flex_attention`): a logit soft-cap and the ALiBi or T5 biases as one score modifier,
causal and sliding-window masks as a block mask whose fully masked blocks are skipped, not computed.

It is fused only when compiled, and PyTorch's CPU FlexAttention has no backward, so models take this path
under torch.compile on a GPU; everywhere else they use SDPA or the explicit reference path (layers.py).
"""

from __future__ import annotations

import functools

import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention


def score_modifier(softcap: float | None, slopes: torch.Tensor | None, bias: torch.Tensor | None):
    """score (already × scale) → cap·tanh(score/cap), then + ALiBi's −slope·distance or a (h, Tq, Tk) bias:
    the order of the explicit path. None when there is nothing to modify."""
    if softcap is None and slopes is None and bias is None:
        return None

    def modify(score, b, h, q_idx, k_idx):
        if softcap is not None:
            score = softcap * torch.tanh(score / softcap)
        if slopes is not None:
            score = score - slopes[h] * (q_idx - k_idx)
        if bias is not None:
            score = score + bias[h, q_idx, k_idx]
        return score

    return modify


@functools.lru_cache(maxsize=32)
def _block_mask(length: int, window: int | None, device: str):
    def causal(b, h, q_idx, k_idx):
        allowed = q_idx >= k_idx
        return allowed & (q_idx - k_idx < window) if window is not None else allowed

    return create_block_mask(causal, None, None, length, length, device=device)


def flex_attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: float, window: int | None,
                softcap: float | None = None, slopes: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
    """Causal attention over a whole sequence from position 0: q (B, h, T, hd), k and v (B, h_kv, T, hd)."""
    mask = _block_mask(q.size(2), window, str(q.device))
    return flex_attention(q, k, v, score_mod=score_modifier(softcap, slopes, bias), block_mask=mask, scale=scale,
                          enable_gqa=q.size(1) != k.size(1))
