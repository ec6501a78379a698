"""Parameter, FLOP and KV-cache counts derived from the config alone, so variants can be matched on
budget before anything is built. Tests check each against the built model."""

from __future__ import annotations

from models.config import ModelConfig, ResidualNorm

_NORMS_PER_BRANCH = {"pre": 1, "post": 1, "double": 2, "post_block": 1}


def _norm(config: ModelConfig, dim: int, kind: ResidualNorm | None = None) -> int:
    kind = kind or config.norm
    if kind == "none":
        return 0
    return dim * ((config.norm_scale != "none") + (kind == "layer" and config.norm_bias))


def _widths(config: ModelConfig) -> tuple[int, int, int]:
    """Output widths of the q projection, of the k (and of the v) projection, and of the MLP's input(s)."""
    head_dim = config.effective_head_dim
    return config.n_heads * head_dim, config.effective_n_kv_heads * head_dim, (2 if config.gated else 1) * config.effective_d_ff


def _matrices(config: ModelConfig) -> int:
    """Weights of one block's matmuls: q, k, v, output, and the MLP's input(s) and output."""
    (q, kv, mlp_in), d = _widths(config), config.d_model
    return d * (q + 2 * kv) + q * d + d * mlp_in + config.effective_d_ff * d


def _block(config: ModelConfig) -> int:
    (q, kv, mlp_in), d = _widths(config), config.d_model
    biases = (q + 2 * kv) * config.qkv_bias + (d + mlp_in + d) * config.linear_bias
    qk_norms = 0
    if config.qk_norm is not None:
        per_head = config.qk_norm_scope == "head"
        qk_norms = _norm(config, config.effective_head_dim if per_head else q, config.qk_norm)
        qk_norms += _norm(config, config.effective_head_dim if per_head else kv, config.qk_norm)
    branches = 1 if config.block == "parallel" else 2
    norms = branches * _NORMS_PER_BRANCH[config.norm_position] * _norm(config, d)
    return _matrices(config) + biases + qk_norms + norms


def non_embedding_params(config: ModelConfig) -> int:
    """Parameters outside the token and position embeddings and the output head (Kaplan et al. 2020)."""
    extra = _norm(config, config.d_model) * (config.final_norm + config.embed_norm)
    return config.n_layers * _block(config) + extra


def total_params(config: ModelConfig) -> int:
    embeddings = config.vocab_size * config.d_model
    positions = config.context * config.d_model if config.pos == "learned" else 0
    if any(config.layer_pos(i) == "t5" for i in range(config.n_layers)):
        positions += config.t5_buckets * config.n_heads
    head = 0 if config.tie_embeddings else config.vocab_size * config.d_model
    return non_embedding_params(config) + embeddings + positions + head


def width_at_budget(config: ModelConfig, n_layers: int) -> dict[str, int]:
    """n_layers, and the d_model (a multiple of head_dim, heads of config's head_dim) whose non-embedding
    parameters come closest to config's with d_model / head_dim heads: shapes of one budget for an aspect-ratio
    sweep (Kaplan et al. 2020)."""
    head_dim = config.effective_head_dim
    budget = non_embedding_params(config.replace(n_heads=config.d_model // head_dim))

    def shape(d_model: int) -> dict[str, int]:
        return {"n_layers": n_layers, "d_model": d_model, "n_heads": d_model // head_dim}

    widths = range(head_dim, 16 * config.d_model + 1, head_dim)
    return shape(min(widths, key=lambda d: abs(non_embedding_params(config.replace(**shape(d))) - budget)))


def attention_flops_per_token(config: ModelConfig) -> int:
    """12·Σ_layers heads·head_dim·keys: QKᵀ and the weighted sum of V, forward and backward, each token's
    query against the keys it sees: the full context (as computed, PaLM appendix B; nanoGPT) or a local
    layer's window."""
    keys = (min(config.context, config.sliding_window) if config.layer_kind(i) == "local" else config.context
            for i in range(config.n_layers))
    return 12 * config.n_heads * config.effective_head_dim * sum(keys)


def training_flops_per_token(config: ModelConfig) -> int:
    """6·N_matmul + attention: forward (2 FLOPs per multiply-add) plus backward (twice the forward).
    N_matmul counts the weight matrices of every block and the output head."""
    matmul = config.n_layers * _matrices(config) + config.vocab_size * config.d_model
    return 6 * matmul + attention_flops_per_token(config)


def kv_cache_bytes(config: ModelConfig, tokens: int, bytes_per_value: int = 2) -> int:
    """Bytes of K and V held after `tokens` tokens: grouped heads and sliding windows shrink it."""
    per_token_layer = 2 * config.effective_n_kv_heads * config.effective_head_dim * bytes_per_value
    kept = (min(tokens, config.sliding_window) if config.layer_kind(i) == "local" else tokens for i in range(config.n_layers))
    return per_token_layer * sum(kept)
