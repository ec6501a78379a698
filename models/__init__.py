"""Plain-PyTorch transformer models for the ablations. Imports neither Lightning nor submitit."""

from models.accounting import kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token
from models.config import ModelConfig
from models.transformer import Transformer

__all__ = ["ModelConfig", "Transformer", "kv_cache_bytes", "non_embedding_params", "total_params", "training_flops_per_token"]
