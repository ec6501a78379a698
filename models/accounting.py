"""Parameter and FLOP counts derived from the config alone, so variants can be matched on budget
before anything is built. Tests check both against the built model."""

from __future__ import annotations

from models.config import ModelConfig


def _norm_params(config: ModelConfig) -> int:
    return config.d_model * (2 if config.norm == "layer" and config.bias else 1)


def _block_matrix_params(config: ModelConfig) -> int:
    d, f = config.d_model, config.ffn_dim
    attention = 4 * d * d  # fused qkv (3·d·d) and output (d·d)
    mlp = (3 if config.mlp == "swiglu" else 2) * d * f
    return attention + mlp


def _block_params(config: ModelConfig) -> int:
    d, f = config.d_model, config.ffn_dim
    biases = 0
    if config.bias:
        biases = 3 * d + d + (2 * f if config.mlp == "swiglu" else f) + d
    return _block_matrix_params(config) + biases + 2 * _norm_params(config)


def non_embedding_params(config: ModelConfig) -> int:
    """Parameters outside the token and position embeddings and the output head (Kaplan et al. 2020)."""
    final = _norm_params(config) if config.final_norm else 0
    return config.n_layers * _block_params(config) + final


def total_params(config: ModelConfig) -> int:
    embeddings = config.vocab_size * config.d_model
    positions = config.context * config.d_model if config.pos == "learned" else 0
    head = 0 if config.tie_embeddings else config.vocab_size * config.d_model
    return non_embedding_params(config) + embeddings + positions + head


def training_flops_per_token(config: ModelConfig) -> int:
    """6·N_matmul + 12·L·d·T: forward (2 FLOPs per multiply-add) plus backward (twice the forward),
    with attention scores over the full context (PaLM appendix B; nanoGPT's MFU estimate).
    N_matmul counts the weight matrices of every block and the output head."""
    matmul = config.n_layers * _block_matrix_params(config) + config.vocab_size * config.d_model
    return 6 * matmul + 12 * config.n_layers * config.d_model * config.context
