"""Plain-PyTorch transformer models for the ablations. Imports neither Lightning nor submitit.

`Transformer` loads lazily (PEP 562), so code that needs only the config or the accounting, such as
analysis and run ids, does not import torch.
"""

from models.accounting import kv_cache_bytes, non_embedding_params, total_params, training_flops_per_token
from models.config import ModelConfig

__all__ = ["ModelConfig", "Transformer", "kv_cache_bytes", "non_embedding_params", "total_params", "training_flops_per_token"]


def __getattr__(name: str):
    if name == "Transformer":
        from models.transformer import Transformer

        return Transformer
    raise AttributeError(f"module 'models' has no attribute {name!r}")
