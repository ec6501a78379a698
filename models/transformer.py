"""The decoder-only transformer, its blocks, GPT-2-style initialisation and incremental decoding."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.config import ModelConfig
from models.layers import Attention, KVCache, Mlp, make_norm
from models.positions import Rotary, T5RelativeBias, sinusoidal_table


class Sublayer(nn.Module):
    """One residual branch f (attention, MLP, or both in parallel) with its norms where `norm_position` puts them.

    pre         x + f(N(x))        GPT-2, LLaMA, most models since 2019
    post        N(x + f(x))        Vaswani et al. 2017, BERT; needs LR warm-up (Xiong et al. 2020)
    double      x + N'(f(N(x)))    Gemma 2/3, Grok ("sandwich", "peri-LN")
    post_block  x + N'(f(x))       OLMo 2 ("reordered norm")
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.position = config.norm_position
        self.norm_in = make_norm(config) if self.position in ("pre", "double") else None
        self.norm_out = make_norm(config) if self.position in ("post", "double", "post_block") else None
        self.dropout = nn.Dropout(config.resid_dropout)

    def update(self, x: torch.Tensor, f) -> torch.Tensor:
        """The branch's contribution before any output norm: f on the (normalised) input, then residual dropout."""
        h = f(self.norm_in(x)) if self.norm_in is not None else f(x)
        return self.dropout(h)

    def forward(self, x: torch.Tensor, f) -> torch.Tensor:
        h = self.update(x, f)
        if self.position == "post":
            return self.norm_out(x + h)
        return x + (self.norm_out(h) if self.norm_out is not None else h)


class Block(nn.Module):
    """serial:              x = x + attn(·);  x = x + mlp(·)
    parallel:            x = x + attn(N(x)) + mlp(N(x))   one norm; q, k, v and the MLP input in one matmul
                         (GPT-J, PaLM, Falcon, Cohere)
    parallel_two_norms:  x = x + attn(N1(x)) + mlp(N2(x))  (GPT-NeoX / Pythia)

    In every kind each branch's output passes residual dropout before it joins x.
    """

    def __init__(self, config: ModelConfig, layer: int) -> None:
        super().__init__()
        self.kind = config.block
        fused = self.kind == "parallel"
        self.attn, self.mlp = Attention(config, layer, project_input=not fused), Mlp(config, project_input=not fused)
        if fused:
            self.branch = Sublayer(config)
            self.in_proj = nn.Linear(config.d_model, self.attn.in_features + self.mlp.in_features, bias=False)
            self.qkv_bias = nn.Parameter(torch.zeros(self.attn.in_features)) if config.qkv_bias else None
            self.mlp_bias = nn.Parameter(torch.zeros(self.mlp.in_features)) if config.linear_bias else None
        else:
            self.attn_branch, self.mlp_branch = Sublayer(config), Sublayer(config)

    def _fused(self, h: torch.Tensor, attend) -> torch.Tensor:
        qkv, mlp_in = self.in_proj(h).split([self.attn.in_features, self.mlp.in_features], dim=-1)
        qkv = qkv + self.qkv_bias if self.qkv_bias is not None else qkv
        mlp_in = mlp_in + self.mlp_bias if self.mlp_bias is not None else mlp_in
        return attend(qkv) + self.mlp.activate_and_project(mlp_in)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache | None, t5,
                max_logits: list[torch.Tensor] | None = None) -> torch.Tensor:
        def attend(qkv):
            return self.attn.attend(qkv, positions, cache, t5, max_logits)

        def attention(h):
            return self.attn(h, positions, cache, t5, max_logits)

        if self.kind == "parallel":
            return self.branch(x, lambda h: self._fused(h, attend))
        if self.kind == "parallel_two_norms":
            return x + self.attn_branch.update(x, attention) + self.mlp_branch.update(x, self.mlp)
        x = self.attn_branch(x, attention)
        return self.mlp_branch(x, self.mlp)


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context, config.d_model) if config.pos == "learned" else None
        if config.pos == "sinusoidal":
            self.register_buffer("sinusoids", self._sinusoids(config.context), persistent=False)
        self.positions_reach = config.context  # the longest sequence the position tables cover now
        self.embed_norm = make_norm(config) if config.embed_norm else None
        uses_t5 = any(config.layer_pos(i) == "t5" for i in range(config.n_layers))
        self.t5 = T5RelativeBias(config.n_heads, config.t5_buckets, config.t5_max_distance) if uses_t5 else None
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.final_norm = make_norm(config) if config.final_norm else None
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # GPT-2: residual output projections scaled by 1/sqrt(2·n_layers) so the residual
        # stream's variance does not grow with depth.
        for block in self.blocks:
            for proj in (block.attn.out, block.mlp.w_out):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.n_layers))
        if config.embed_init_std != 0.02:  # a redraw only off the default, so default models keep their weights
            nn.init.normal_(self.tok_emb.weight, std=config.embed_init_std)
        if config.mlp_init == "fan_in":
            for block in self.blocks:
                w_in = block.mlp.w_in.weight if block.mlp.w_in is not None else block.in_proj.weight[-block.mlp.in_features:]
                with torch.no_grad():
                    w_in.normal_(std=config.d_model**-0.5)

    def _sinusoids(self, length: int) -> torch.Tensor:
        return sinusoidal_table(length, self.config.d_model) * self.config.sinusoid_scale

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _reach(self, length: int) -> None:
        """Runs past the training context (length extrapolation) grow the fixed tables; learned ones cannot."""
        if length <= self.positions_reach:
            return
        if self.pos_emb is not None:
            raise ValueError(f"learned positions end at context={self.config.context}; cannot run {length} tokens")
        if self.config.pos == "sinusoidal":
            self.sinusoids = self._sinusoids(length).to(self.sinusoids.device)
        for module in self.modules():
            if isinstance(module, Rotary):
                module.reach(length)
        self.positions_reach = length

    def embed(self, idx: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(idx)  # (B, T, d)
        if self.config.scale_embeddings:
            x = x * torch.tensor(self.config.d_model**0.5, dtype=x.dtype)
        if self.pos_emb is not None:
            x = x + self.pos_emb(positions)
        if self.config.pos == "sinusoidal":
            x = x + self.sinusoids[positions].to(x.dtype)
        return self.embed_norm(x) if self.embed_norm is not None else x

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, *,
                return_max_logits: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, T) → next-token logits (B, T, vocab). With a cache, idx continues the cached tokens.

        return_max_logits: also return each layer's largest attention logit, (n_layers,) on the model's device,
        a stability probe; it costs one explicit score matrix per layer beside the fused kernel.
        """
        start = cache.length if cache is not None else 0
        self._reach(start + idx.size(1))
        positions = torch.arange(start, start + idx.size(1), device=idx.device)
        max_logits = [] if return_max_logits else None
        x = self.embed(idx, positions)
        for block in self.blocks:
            x = block(x, positions, cache, self.t5, max_logits)
        if cache is not None:
            cache.length += idx.size(1)
        if self.final_norm is not None:
            x = self.final_norm(x)
        logits = self.head(x) * self.config.logit_scale
        if self.config.output_softcap is not None:
            logits = self.config.output_softcap * torch.tanh(logits / self.config.output_softcap)
        return (logits, torch.stack(max_logits).float()) if return_max_logits else logits

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
        """Greedy continuation of prompt (B, T) through the KV cache: (B, T + new_tokens)."""
        cache = KVCache()
        logits, out = self(prompt, cache), prompt
        for _ in range(new_tokens):
            token = logits[:, -1:].argmax(-1)
            out = torch.cat([out, token], dim=1)
            logits = self(token, cache)
        return out
