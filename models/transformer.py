"""The decoder-only transformer, its blocks and GPT-2-style initialisation."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import CausalSelfAttention, make_mlp, make_norm


class Block(nn.Module):
    """One residual block; `norm_position` picks where the norms sit.

    pre  (GPT-2, LLaMA, most models since 2019):   x = x + attn(N1(x));  x = x + mlp(N2(x))
    post (Vaswani et al. 2017, BERT):              x = N1(x + attn(x));  x = N2(x + mlp(x))
    Post-norm puts a norm on the residual stream itself, which is why it needs LR warm-up
    (Xiong et al. 2020); pre-norm leaves an identity path from every layer to the output.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.pre = config.norm_position == "pre"
        self.norm1, self.attn = make_norm(config), CausalSelfAttention(config)
        self.norm2, self.mlp = make_norm(config), make_mlp(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context, config.d_model) if config.pos == "learned" else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.final_norm = make_norm(config) if config.final_norm else nn.Identity()
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # GPT-2: residual output projections scaled by 1/sqrt(2·n_layers) so the residual
        # stream's variance does not grow with depth.
        for block in self.blocks:
            for proj in (block.attn.out, block.mlp.w_out):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) → next-token logits (B, T, vocab)."""
        x = self.tok_emb(idx)  # (B, T, d)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(idx.size(1), device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x))
